package dev.rlhf.launcher.pipeline;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.TrainingExample;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.world.GoldOracle;
import dev.rlhf.world.PreferencePair;
import dev.rlhf.world.PromptRecord;
import dev.rlhf.world.PromptSplits;
import dev.rlhf.world.SftExample;
import dev.rlhf.world.Task;
import dev.rlhf.world.TaskKind;
import dev.rlhf.world.World;
import dev.rlhf.world.WorldData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The whole LLaMA 2 fine-tuning pipeline on the synthetic world, as a list of {@link Stage}s: tokenizer,
 * pre-training, SFT, preference data, helpfulness and safety reward models (through the services), a best-of-N
 * sweep, rejection sampling, PPO and GRPO (through the services); each policy stage graded on held-out prompts by the
 * gold oracles. Each stage draws from its own named seed ({@link Seeds#of}), so adding, removing or reordering a
 * stage changes no other stage's draws, and a stage whose models are complete on disk is reused by {@code --resume}.
 */
public final class DemoPipeline {
    private DemoPipeline() {}

    /**
     * What each seed draws. {@code finetune} ({@code --seed}): the demonstrations and SFT, the preference samples
     * and reward models, RS and PPO sampling, the evaluation samples. {@code base} ({@code --base-seed}, by default
     * the same): the pre-trained base model (corpus, tokenizer, initial weights, pre-training order). {@code split}
     * ({@code --split-seed}, fixed by default): the held-out, validation and RL training prompts, so that runs with
     * different seeds are graded on the same held-out prompts and their spread measures training, not which
     * prompts happened to be held out.
     */
    public record Seeds(long finetune, long base, long split) {
        /** The seed of a fine-tuning draw, named: a SplitMix64 mix of {@code finetune} and the name. */
        public long of(String draw) {
            return mix(finetune, draw);
        }

        /** The seed of a base-model draw (corpus, tokenizer, initial weights, pre-training order), named. */
        public long ofBase(String draw) {
            return mix(base, draw);
        }

        private static long mix(long seed, String draw) {
            long z = seed ^ (draw.hashCode() * 0x9E3779B97F4A7C15L);
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }

    public static final long DEFAULT_SPLIT_SEED = 0;

    /** Everything the report needs. */
    public record Result(DemoSettings settings, Seeds seeds,
                         Map<String, GoldEvaluation.Metrics> stages,
                         Map<String, GoldEvaluation.Metrics> stagesOnTrainingPrompts, double rsBestSamplesGold,
                         Map<RewardKind, RewardModelAccuracy.Accuracy> rewardModels,
                         Map<RewardKind, Integer> rewardTrainingPairs, List<BestOfNSweep.Point> sweep,
                         List<Long> rsVersions, Map<String, RolloutLearningStage.Result> rl,
                         Map<String, Double> stageSeconds,
                         Map<String, Path> models) {}

    /**
     * One step of the demo: what it reads from and leaves in the {@link Run}, whether its models are already on disk
     * (then {@code --resume} reuses them), and its seconds in the report under {@link #name}.
     */
    interface Stage {
        String name();

        /** The progress line, e.g. "pre-training on 4000 noisy documents". */
        String describe(Run run);

        void run(Run run) throws Exception;
    }

    /** What the stages share: the settings, the world and its splits, and what each stage has produced so far. */
    static final class Run implements AutoCloseable {
        final Path dir;
        final Path modelsDir;
        final DemoSettings s;
        final Seeds seeds;
        final Consumer<String> log;
        final World world;
        final World trainingWorld;
        final List<Task> train;
        final List<Task> validation;
        final List<Task> heldOut;
        /** cpu, gpu or auto: the in-process stages and the services the RL stages start. */
        final String device;
        final NDManager manager;
        final Map<String, Path> models = new LinkedHashMap<>();
        final Map<String, GoldEvaluation.Metrics> graded = new LinkedHashMap<>();
        final Map<String, GoldEvaluation.Metrics> gradedOnTrainingPrompts = new LinkedHashMap<>();
        final Map<String, RolloutLearningStage.Result> rl = new LinkedHashMap<>();
        List<String> corpus;
        List<SftExample> sftSet;
        Path sftFile;
        LlamaTokenizer tokenizer;
        LlamaModel sftModel;
        List<PreferencePair> trainPairs;
        List<PreferencePair> heldOutPairs;
        final Map<RewardKind, Path> rmDirs = new EnumMap<>(RewardKind.class);
        final Map<RewardKind, RewardModel> rms = new EnumMap<>(RewardKind.class);
        final Map<RewardKind, RewardModelAccuracy.Accuracy> rmAccuracy = new EnumMap<>(RewardKind.class);
        final Map<RewardKind, Integer> rmPairs = new EnumMap<>(RewardKind.class);
        List<BestOfNSweep.Point> sweep;
        RejectionSamplingStage.Result rs;
        double rsBestSamplesGold;

        Run(Path dir, DemoSettings s, Seeds seeds, String device, Consumer<String> log) {
            this.device = device;
            this.manager = NDManager.newBaseManager(Devices.resolve(device));
            this.dir = dir;
            this.modelsDir = dir.resolve("models");
            this.s = s;
            this.seeds = seeds;
            this.log = log;
            this.world = World.standard();
            PromptSplits splits = world.promptSplits(seeds.split(), s.trainPrompts() + s.validationPrompts(),
                    s.heldOutPrompts());
            this.train = splits.train().subList(0, s.trainPrompts());
            this.validation = splits.train().subList(s.trainPrompts(), splits.train().size());
            this.heldOut = splits.heldOut();
            this.trainingWorld = world.without(heldOut); // nothing a model trains on mentions a held-out prompt
        }

        /** The grading of every policy stage: the same samples per held-out prompt, seed and temperature. */
        GoldEvaluation.Options evaluation() {
            return new GoldEvaluation.Options(s.evalSamples(), s.evalTemperature(), s.maxNewTokens(),
                    seeds.of("evaluation"));
        }

        Map<String, GoldEvaluation.Metrics> grade(String stage, LlamaModel policy) {
            graded.put(stage, GoldEvaluation.evaluate(policy, sftModel, rms.get(RewardKind.HELPFULNESS),
                    rms.get(RewardKind.SAFETY), tokenizer, heldOut, evaluation(),
                    dir.resolve("samples-" + stage + ".jsonl")));
            return graded;
        }

        LlamaModel load(Path checkpoint) {
            return new LlamaModel(LlamaCheckpoint.load(checkpoint, manager, ScoreHead.ABSENT));
        }

        List<PromptRecord> records(List<Task> tasks) {
            return tasks.stream().map(Task::toPromptRecord).toList();
        }

        @Override
        public void close() {
            if (tokenizer != null) {
                tokenizer.close();
            }
            manager.close(); // the models loaded by the stages
        }
    }

    /** The stages of a run, in order. */
    static List<Stage> stages() {
        return List.of(new TokenizerStage(), new PretrainStage(), new SftStage(), new PreferenceStage(),
                new RewardModelStage(), new SweepStage(), new RejectionSampling(),
                new RolloutLearning(TrainerConfig.PPO), new RolloutLearning(TrainerConfig.GRPO));
    }

    /** @param device cpu, gpu or auto, for every stage */
    public static Result run(Path runDir, DemoSettings s, Seeds seeds, String device, Consumer<String> log)
            throws Exception {
        Map<String, Double> seconds = new LinkedHashMap<>();
        List<Stage> stages = stages();
        try (Run run = new Run(runDir, s, seeds, device, log);
             GradMode.Restore ignored = GradMode.disabled()) {
            for (int i = 0; i < stages.size(); i++) {
                Stage stage = stages.get(i);
                log.accept("[" + (i + 1) + "/" + stages.size() + "] " + stage.describe(run));
                long t0 = System.nanoTime();
                stage.run(run);
                seconds.put(stage.name(), (System.nanoTime() - t0) / 1e9);
            }
            return new Result(s, seeds, run.graded, run.gradedOnTrainingPrompts, run.rsBestSamplesGold,
                    run.rmAccuracy, run.rmPairs, run.sweep, run.rs.versions(), run.rl, seconds, run.models);
        }
    }

    /** Byte-level BPE on the corpus and a demonstration-style sample, and the random initial model (base seed). */
    static final class TokenizerStage implements Stage {
        public String name() {
            return "tokenizer";
        }

        public String describe(Run r) {
            return "tokenizer and pre-training corpus";
        }

        public void run(Run r) {
            r.corpus = r.trainingWorld.pretrainingCorpus(r.seeds.ofBase("corpus"), r.s.corpusDocuments());
            r.sftSet = r.trainingWorld.sftSet(r.seeds.of("demonstrations"), r.s.sftExamples());
            Path tokenizerDir = r.modelsDir.resolve("tokenizer");
            if (!Files.exists(tokenizerDir.resolve("tokenizer.json"))) {
                // Part of the base model: the corpus and a demonstration-style sample drawn with the base seed.
                List<String> texts = new ArrayList<>(r.corpus);
                r.trainingWorld.sftSet(r.seeds.ofBase("tokenizer-demonstrations"), r.s.sftExamples())
                        .forEach(e -> texts.add(e.prompt() + " " + e.response()));
                ModelFactory.trainTokenizer(texts, r.s.vocabSize(), tokenizerDir);
            }
            Path init = r.modelsDir.resolve("init");
            if (!AtomicDirectory.isComplete(init)) {
                ModelFactory.create(init, LlamaConfig.preset(r.s.architecture()), tokenizerDir,
                        r.seeds.ofBase("init"), false);
            }
            r.tokenizer = LlamaTokenizer.load(tokenizerDir);
            r.models.put("init", init);
        }
    }

    /** Next-token training on the noisy corpus (base seed). */
    static final class PretrainStage implements Stage {
        public String name() {
            return "pretrain";
        }

        public String describe(Run r) {
            return "pre-training on " + r.corpus.size() + " noisy documents";
        }

        public void run(Run r) {
            Path pretrained = r.modelsDir.resolve("pretrained");
            if (AtomicDirectory.isComplete(pretrained)) {
                r.log.accept("      reusing " + pretrained);
            } else {
                AtomicDirectory.deleteRecursively(r.dir.resolve("tensorboard/pretrain")); // a resumed run retrains
                List<TrainingExample> docs = r.corpus.stream()
                        .map(d -> TrainingExample.text(r.tokenizer.encode(d))).toList();
                LanguageModelTraining.train("pretrain", r.models.get("init"), pretrained, docs,
                        new LanguageModelTraining.Options(r.s.pretrainSteps(), r.s.batchSize(), r.s.sequenceLength(),
                                r.s.pretrainLearningRate(), Math.max(1, r.s.pretrainSteps() / 10),
                                r.seeds.ofBase("pretrain"), r.dir.resolve("tensorboard/pretrain")), r.manager);
            }
            r.models.put("pretrained", pretrained);
        }
    }

    /** Supervised fine-tuning on the demonstrations (loss on the response tokens). */
    static final class SftStage implements Stage {
        public String name() {
            return "sft";
        }

        public String describe(Run r) {
            return "supervised fine-tuning on " + r.sftSet.size() + " demonstrations";
        }

        public void run(Run r) throws Exception {
            Path sft = r.modelsDir.resolve("sft");
            if (AtomicDirectory.isComplete(sft)) {
                r.log.accept("      reusing " + sft);
            } else {
                AtomicDirectory.deleteRecursively(r.dir.resolve("tensorboard/sft")); // a resumed run retrains
                List<TrainingExample> examples = r.sftSet.stream().map(e -> new TrainingExample(
                        r.tokenizer.encode(e.prompt()), r.tokenizer.encode(e.response()))).toList();
                LanguageModelTraining.train("sft", r.models.get("pretrained"), sft, examples,
                        new LanguageModelTraining.Options(r.s.sftSteps(), r.s.batchSize(), r.s.sequenceLength(),
                                r.s.sftLearningRate(), Math.max(1, r.s.sftSteps() / 10), r.seeds.of("sft"),
                                r.dir.resolve("tensorboard/sft"), r.s.loraConfig()),
                        r.manager);
            }
            r.models.put("sft", sft);
            r.sftModel = r.load(sft);
            Files.createDirectories(r.dir.resolve("data"));
            r.sftFile = r.dir.resolve("data/sft.jsonl");
            WorldData.writeSft(r.sftFile, r.sftSet);
        }
    }

    /**
     * Comparisons sampled from the SFT model and labelled by the gold oracles: on many more prompts than RL trains on
     * (all of the training world's, held-out ones excluded), more rounds on the harmful and borderline prompts (the
     * paper collects safety comparisons separately, §3.2.1/§4.2), and one round on the held-out prompts for the
     * reward models' accuracy.
     */
    static final class PreferenceStage implements Stage {
        public String name() {
            return "preferences";
        }

        public String describe(Run r) {
            return "preference pairs from the SFT model, labelled by the gold oracles";
        }

        public void run(Run r) throws Exception {
            List<Task> prompts = PreferenceData.prompts(r.trainingWorld, r.s.preferencePrompts(),
                    r.seeds.of("preference-prompts"));
            List<PreferencePair> pairs = new ArrayList<>(PreferenceData.collect(r.sftModel, r.tokenizer, prompts,
                    r.s.preferenceRounds(), r.s.maxNewTokens(), r.seeds.of("preferences")));
            if (r.s.safetyPreferenceRounds() > 0) {
                List<Task> safetyPrompts = prompts.stream().filter(t -> t.kind() != TaskKind.HELPFUL).toList();
                PreferenceData.collect(r.sftModel, r.tokenizer, safetyPrompts, r.s.safetyPreferenceRounds(),
                        r.s.maxNewTokens(), r.seeds.of("safety-preferences")).stream()
                        .filter(p -> p.kind() == RewardKind.SAFETY).forEach(pairs::add);
            }
            r.trainPairs = pairs;
            r.heldOutPairs = PreferenceData.collect(r.sftModel, r.tokenizer, r.heldOut, 1, r.s.maxNewTokens(),
                    r.seeds.of("held-out-preferences"));
            Path data = r.dir.resolve("data");
            WorldData.writePreferences(data.resolve("preferences-train.jsonl"), r.trainPairs);
            WorldData.writePreferences(data.resolve("preferences-held-out.jsonl"), r.heldOutPairs);
            WorldData.writePrompts(data.resolve("prompts-train.jsonl"), r.records(r.train));
            WorldData.writePrompts(data.resolve("prompts-validation.jsonl"), r.records(r.validation));
            WorldData.writePrompts(data.resolve("prompts-held-out.jsonl"), r.records(r.heldOut));
        }
    }

    /** Both reward models through the trainer service ({@link RewardLearningStage}), then their held-out accuracy. */
    static final class RewardModelStage implements Stage {
        public String name() {
            return "reward_models";
        }

        public String describe(Run r) {
            return "reward models through the trainer service (" + r.trainPairs.size()
                    + " labelled pairs on rlhf.preferences)";
        }

        public void run(Run r) throws Exception {
            for (RewardKind kind : RewardKind.values()) {
                r.rmDirs.put(kind, r.modelsDir.resolve("reward-" + kind.key()));
            }
            if (r.rmDirs.values().stream().allMatch(AtomicDirectory::isComplete)) {
                r.log.accept("      reusing " + r.rmDirs.values());
            } else {
                for (Path dir : r.rmDirs.values()) {
                    AtomicDirectory.deleteRecursively(dir);
                }
                Path work = r.dir.resolve("reward-training");
                RewardLearningStage.run(work, r.models.get("sft"), r.rmDirs, r.trainPairs,
                        new RewardLearningStage.Options(EnumSet.allOf(RewardKind.class), r.s.margin(),
                                r.s.rmBatchSize(), r.s.rmLearningRate(), r.s.rmEpochs(), r.s.safetyCalibration(),
                                r.seeds.of("reward-models"), r.s.sequenceLength(), r.device, Duration.ofMinutes(20))
                                .withLora(r.s.loraConfig()),
                        msg -> { });
                for (RewardKind kind : RewardKind.values()) { // the curves stay, next to pre-training's and SFT's
                    Path curves = work.resolve("reward-checkpoints").resolve(kind.key()).resolve("tensorboard");
                    Path kept = r.dir.resolve("tensorboard/reward-" + kind.key());
                    AtomicDirectory.deleteRecursively(kept); // a resumed run's earlier attempt
                    if (Files.isDirectory(curves)) {
                        Files.createDirectories(r.dir.resolve("tensorboard"));
                        Files.move(curves, kept);
                    }
                }
                AtomicDirectory.deleteRecursively(work); // one checkpoint per step, with optimiser state
            }
            for (RewardKind kind : RewardKind.values()) {
                Path dir = r.rmDirs.get(kind);
                RewardModel rm = RewardModel.load(kind, 0, dir, r.manager);
                List<PreferencePair> eval = r.heldOutPairs.stream().filter(p -> p.kind() == kind).toList();
                r.rmAccuracy.put(kind, RewardModelAccuracy.evaluate(rm, eval, 0.5));
                r.rmPairs.put(kind, Manifest.read(dir).metadata().get("pairs_trained").getAsInt());
                r.rms.put(kind, rm);
                r.models.put("reward-" + kind.key(), dir);
            }
            r.grade("sft", r.sftModel);
        }
    }

    /** Max combined reward among the first N samples of the SFT model, per temperature, on held-out prompts. */
    static final class SweepStage implements Stage {
        public String name() {
            return "sweep";
        }

        public String describe(Run r) {
            return "best-of-N sweep on held-out prompts";
        }

        public void run(Run r) {
            List<Task> tasks = r.heldOut.subList(0, Math.min(r.s.sweepPrompts(), r.heldOut.size()));
            r.sweep = BestOfNSweep.run(r.sftModel, r.rms.get(RewardKind.HELPFULNESS), r.rms.get(RewardKind.SAFETY),
                    r.tokenizer, tasks, r.s.sweepMaxN(), BestOfNSweep.TEMPERATURES, r.s.maxNewTokens(),
                    r.seeds.of("sweep"));
        }
    }

    /** Rejection-sampling iterations through the services ({@link RejectionSamplingStage}), then graded. */
    static final class RejectionSampling implements Stage {
        public String name() {
            return "rs";
        }

        public String describe(Run r) {
            return "rejection sampling through the services (" + r.s.rsIterations() + " iterations, N="
                    + r.s.rsSamples() + ")";
        }

        public void run(Run r) throws Exception {
            Path clusterDir = r.dir.resolve("cluster");
            // A resumed run samples afresh: the prompt ids of an old run would be skipped as already done.
            AtomicDirectory.deleteRecursively(clusterDir);
            DemoSettings s = r.s;
            r.rs = RejectionSamplingStage.run(clusterDir, r.models.get("sft"), r.rmDirs.get(RewardKind.HELPFULNESS),
                    r.rmDirs.get(RewardKind.SAFETY), r.records(r.train),
                    new RejectionSamplingStage.Options(s.rsIterations(), s.rsSamples(), s.rsTemperature(),
                            s.maxNewTokens(), s.rsTrainerBatch(), s.sequenceLength(), s.rsLearningRate(),
                            Duration.ofMinutes(20), r.seeds.of("rejection-sampling"), r.sftFile, s.rsReplayPerStep())
                            .withLora(s.loraConfig()).withDevice(r.device),
                    msg -> { });
            r.models.put("rs", r.rs.model());
            r.rsBestSamplesGold = gradeBestSamples(r.world, clusterDir.resolve("best-samples.jsonl"));
            LlamaModel rsModel = r.load(r.rs.model());
            r.grade("rs", rsModel);
            // Diagnostic, not an acceptance metric: the same grading on prompts RS trained on shows how much of
            // its effect is memorisation of those prompts rather than behaviour that transfers to held-out ones.
            List<Task> seen = r.train.subList(0, Math.min(r.train.size(), s.diagnosticPrompts()));
            RewardModel h = r.rms.get(RewardKind.HELPFULNESS);
            RewardModel sa = r.rms.get(RewardKind.SAFETY);
            r.gradedOnTrainingPrompts.put("sft", GoldEvaluation.evaluate(r.sftModel, r.sftModel, h, sa, r.tokenizer,
                    seen, r.evaluation()));
            r.gradedOnTrainingPrompts.put("rs", GoldEvaluation.evaluate(rsModel, r.sftModel, h, sa, r.tokenizer,
                    seen, r.evaluation()));
        }
    }

    /**
     * PPO or GRPO through the services from the rejection-sampling policy ({@link RolloutLearningStage}). Both
     * draw from the same named seeds, so they see the same prompts, iterations and responses per iteration (the same
     * number of sampled tokens, give or take response lengths), with the same learning rate, KL coefficient and
     * PPO-ptx; the reward models choose the kept version on the validation prompts, and the gold oracles only watch
     * (a diagnostic).
     */
    static final class RolloutLearning implements Stage {
        private final String algorithm;

        RolloutLearning(String algorithm) {
            this.algorithm = algorithm;
        }

        public String name() {
            return algorithm;
        }

        private boolean grpo() {
            return TrainerConfig.GRPO.equals(algorithm);
        }

        public String describe(Run r) {
            return algorithm.toUpperCase(Locale.ROOT) + " through the services from the rejection-sampling policy ("
                    + (grpo() ? r.s.grpoIterations() : r.s.ppoIterations()) + " iterations of " + r.s.ppoBatch()
                    + " responses, " + samplesPerPrompt(r) + " per prompt)";
        }

        private int samplesPerPrompt(Run r) {
            return grpo() ? r.s.grpoSamplesPerPrompt() : r.s.ppoSamplesPerPrompt();
        }

        public void run(Run r) throws Exception {
            DemoSettings s = r.s;
            int n = samplesPerPrompt(r);
            GoldEvaluation.Options goldValidation = new GoldEvaluation.Options(s.evalSamples(), s.evalTemperature(),
                    s.maxNewTokens(), r.seeds.of("validation-diagnostic"));
            RolloutLearningStage.Diagnostic gold = policy -> {
                double sum = 0;
                List<GoldEvaluation.Graded> sampled = GoldEvaluation.sample(policy, r.tokenizer, r.validation,
                        goldValidation.samplesPerPrompt(), goldValidation.temperature(),
                        goldValidation.maxNewTokens(), goldValidation.seed());
                for (GoldEvaluation.Graded x : sampled) {
                    sum += GoldOracle.helpfulness(x.task(), x.response());
                }
                return sum / sampled.size();
            };
            Path work = r.dir.resolve(algorithm);
            AtomicDirectory.deleteRecursively(work);
            TrainerConfig.Ppo ppo = TrainerConfig.Ppo.defaults().withBatch(s.ppoBatch(), s.ppoMiniBatch())
                    .withLearningRate(s.ppoLearningRate(), s.ppoBeta()).withStaleness(1, r.seeds.of("rl-shuffles"))
                    .withPtxCoef(s.ppoPtxCoef());
            RolloutLearningStage.Result result = RolloutLearningStage.run(work, r.rs.model(),
                    r.rmDirs.get(RewardKind.HELPFULNESS), r.rmDirs.get(RewardKind.SAFETY),
                    r.rms.get(RewardKind.HELPFULNESS), r.rms.get(RewardKind.SAFETY), r.records(r.train),
                    r.records(r.validation),
                    new RolloutLearningStage.Options(algorithm, grpo() ? s.grpoIterations() : s.ppoIterations(),
                            s.ppoBatch() / n, n, 1.0, s.maxNewTokens(), ppo, s.ppoEvalEvery(), s.ppoPatience(),
                            r.seeds.of("rl-prompts"), r.sftFile, s.ppoPtxPerStep(), s.sequenceLength(),
                            Duration.ofMinutes(10)).withLora(s.loraConfig()).withDevice(r.device),
                    gold, r.manager, msg -> { });
            r.rl.put(algorithm, result);
            // The kept version, copied out of the cluster's checkpoints (without the value head, as served).
            Path kept = r.modelsDir.resolve(algorithm);
            AtomicDirectory.deleteRecursively(kept);
            LlamaModel keptModel = r.load(result.model());
            LlamaCheckpoint.save(keptModel.weights(), kept, LlamaCheckpoint.SaveOptions.defaults(
                    result.bestIteration()).withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(result.model(),
                    dir)));
            r.models.put(algorithm, kept);
            r.grade(algorithm, keptModel);
        }
    }

    /** Mean gold helpfulness of what the trainer fine-tuned on during rejection sampling. */
    static double gradeBestSamples(World world, Path jsonl) throws java.io.IOException {
        List<Double> gold = dev.rlhf.world.Jsonl.read(jsonl, line -> GoldOracle.helpfulness(
                world.task(line.string("prompt")).orElseThrow(() -> line.error("prompt not in the world")),
                line.string("response")));
        return gold.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

}
