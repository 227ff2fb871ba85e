package dev.rlhf.launcher.pipeline;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.llama.train.TrainingExample;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.world.PreferencePair;
import dev.rlhf.world.PromptSplits;
import dev.rlhf.world.SftExample;
import dev.rlhf.world.Task;
import dev.rlhf.world.World;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The whole LLaMA 2 fine-tuning pipeline on the synthetic world: tokenizer, pre-training, SFT, preference data,
 * helpfulness and safety reward models, rejection sampling through the services, PPO; each policy stage graded
 * on held-out prompts by the gold oracles.
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
    public record Seeds(long finetune, long base, long split) {}

    public static final long DEFAULT_SPLIT_SEED = 0;

    /** Everything the report needs. */
    public record Result(DemoSettings settings, Seeds seeds,
                         Map<String, GoldEvaluation.Metrics> stages,
                         Map<String, GoldEvaluation.Metrics> stagesOnTrainingPrompts, double rsBestSamplesGold,
                         Map<RewardKind, RewardModelStage.Accuracy> rewardModels,
                         Map<RewardKind, Integer> rewardTrainingPairs, List<BestOfNSweep.Point> sweep,
                         List<Long> rsVersions, Map<String, RolloutLearningStage.Result> rl,
                         Map<String, Double> stageSeconds,
                         Map<String, Path> models) {}

    public static Result run(Path runDir, DemoSettings s, Seeds seeds, Consumer<String> log) throws Exception {
        long seed = seeds.finetune();
        Map<String, Double> seconds = new LinkedHashMap<>();
        Map<String, Path> models = new LinkedHashMap<>();
        Path modelsDir = runDir.resolve("models");
        World world = World.standard();
        PromptSplits splits = world.promptSplits(seeds.split(), s.trainPrompts() + s.validationPrompts(),
                s.heldOutPrompts());
        List<Task> train = splits.train().subList(0, s.trainPrompts());
        List<Task> validation = splits.train().subList(s.trainPrompts(), splits.train().size());
        List<Task> heldOut = splits.heldOut();
        World trainingWorld = world.without(heldOut); // nothing a model trains on mentions a held-out prompt

        long t0 = System.nanoTime();
        log.accept("[1/9] tokenizer and pre-training corpus");
        List<String> corpus = trainingWorld.pretrainingCorpus(seeds.base(), s.corpusDocuments());
        List<SftExample> sftSet = trainingWorld.sftSet(seed + 1, s.sftExamples());
        Path tokenizerDir = modelsDir.resolve("tokenizer");
        if (!Files.exists(tokenizerDir.resolve("tokenizer.json"))) {
            // Part of the base model: the corpus and a demonstration-style sample drawn with the base seed.
            List<String> tokenizerTexts = new ArrayList<>(corpus);
            trainingWorld.sftSet(seeds.base() + 1, s.sftExamples())
                    .forEach(e -> tokenizerTexts.add(e.prompt() + " " + e.response()));
            ModelFactory.trainTokenizer(tokenizerTexts, s.vocabSize(), tokenizerDir);
        }
        Path init = modelsDir.resolve("init");
        if (!AtomicDirectory.isComplete(init)) {
            ModelFactory.create(init, LlamaConfig.preset(s.architecture()), tokenizerDir, seeds.base(), false);
        }
        seconds.put("tokenizer", elapsed(t0));

        try (NDManager manager = NDManager.newBaseManager();
             GradMode.Restore ignored = GradMode.disabled();
             LlamaTokenizer tokenizer = LlamaTokenizer.load(tokenizerDir)) {
            t0 = System.nanoTime();
            log.accept("[2/9] pre-training on " + corpus.size() + " noisy documents");
            Path pretrained = modelsDir.resolve("pretrained");
            if (!AtomicDirectory.isComplete(pretrained)) {
                List<TrainingExample> docs = corpus.stream().map(d -> TrainingExample.text(tokenizer.encode(d)))
                        .toList();
                LanguageModelTraining.train("pretrain", init, pretrained, docs, new LanguageModelTraining.Options(
                        s.pretrainSteps(), s.batchSize(), s.sequenceLength(), s.pretrainLearningRate(),
                        Math.max(1, s.pretrainSteps() / 10), seeds.base()), manager);
            } else {
                log.accept("      reusing " + pretrained);
            }
            seconds.put("pretrain", elapsed(t0));

            t0 = System.nanoTime();
            log.accept("[3/9] supervised fine-tuning on " + sftSet.size() + " demonstrations");
            List<TrainingExample> sftExamples = sftSet.stream().map(e -> new TrainingExample(
                    tokenizer.encode(e.prompt()), tokenizer.encode(e.response()))).toList();
            Path sft = modelsDir.resolve("sft");
            if (!AtomicDirectory.isComplete(sft)) {
                LanguageModelTraining.train("sft", pretrained, sft, sftExamples, new LanguageModelTraining.Options(
                        s.sftSteps(), s.batchSize(), s.sequenceLength(), s.sftLearningRate(),
                        Math.max(1, s.sftSteps() / 10), seed + 2), manager);
            } else {
                log.accept("      reusing " + sft);
            }
            models.put("sft", sft);
            seconds.put("sft", elapsed(t0));

            t0 = System.nanoTime();
            log.accept("[4/9] preference pairs from the SFT model, labelled by the gold oracles");
            LlamaModel sftModel = new LlamaModel(LlamaCheckpoint.load(sft, manager, ScoreHead.ABSENT));
            // Annotators label comparisons on many more prompts than RL later trains on (all of the training world's
            // prompts, held-out ones excluded).
            List<Task> preferencePrompts = PreferenceData.prompts(trainingWorld, s.preferencePrompts(), seed + 12);
            List<PreferencePair> trainPairs = PreferenceData.collect(sftModel, tokenizer, preferencePrompts,
                    s.preferenceRounds(), s.maxNewTokens(), seed + 3);
            if (s.safetyPreferenceRounds() > 0) {
                // The paper collects safety comparisons separately (red-teaming prompts, §3.2.1/§4.2); ours: more
                // sampled rounds on the harmful and borderline prompts, keeping only the safety pairs.
                List<Task> safetyPrompts = preferencePrompts.stream()
                        .filter(t -> t.kind() != dev.rlhf.world.TaskKind.HELPFUL).toList();
                List<PreferencePair> extra = PreferenceData.collect(sftModel, tokenizer, safetyPrompts,
                        s.safetyPreferenceRounds(), s.maxNewTokens(), seed + 13).stream()
                        .filter(p -> p.kind() == RewardKind.SAFETY).toList();
                trainPairs = new ArrayList<>(trainPairs);
                trainPairs.addAll(extra);
            }
            List<PreferencePair> heldOutPairs = PreferenceData.collect(sftModel, tokenizer, heldOut, 1,
                    s.maxNewTokens(), seed + 4);
            Files.createDirectories(runDir.resolve("data"));
            dev.rlhf.world.WorldData.writePreferences(runDir.resolve("data/preferences-train.jsonl"), trainPairs);
            dev.rlhf.world.WorldData.writePreferences(runDir.resolve("data/preferences-held-out.jsonl"),
                    heldOutPairs);
            Path sftFile = runDir.resolve("data/sft.jsonl");
            dev.rlhf.world.WorldData.writeSft(sftFile, sftSet);
            dev.rlhf.world.WorldData.writePrompts(runDir.resolve("data/prompts-train.jsonl"),
                    train.stream().map(Task::toPromptRecord).toList());
            dev.rlhf.world.WorldData.writePrompts(runDir.resolve("data/prompts-validation.jsonl"),
                    validation.stream().map(Task::toPromptRecord).toList());
            dev.rlhf.world.WorldData.writePrompts(runDir.resolve("data/prompts-held-out.jsonl"),
                    heldOut.stream().map(Task::toPromptRecord).toList());
            seconds.put("preferences", elapsed(t0));

            t0 = System.nanoTime();
            log.accept("[5/9] reward models (" + trainPairs.size() + " labelled pairs)");
            Map<RewardKind, RewardModelStage.Accuracy> accuracy = new LinkedHashMap<>();
            Map<RewardKind, Integer> pairsUsed = new LinkedHashMap<>();
            Map<RewardKind, Path> rmDirs = new LinkedHashMap<>();
            Map<RewardKind, RewardModel> rms = new LinkedHashMap<>();
            for (RewardKind kind : RewardKind.values()) {
                List<PreferencePair> mix = PreferenceData.mix(trainPairs, kind, 0.9, seed + 5);
                Path dir = modelsDir.resolve("reward-" + kind.name().toLowerCase(java.util.Locale.ROOT));
                if (AtomicDirectory.isComplete(dir)) {
                    log.accept("      reusing " + dir);
                } else {
                    RewardModelStage.train(kind, sft, dir, mix, new RewardModelStage.Options(s.margin(),
                            s.rmBatchSize(), s.rmLearningRate(), s.rmEpochs(),
                            kind == RewardKind.SAFETY ? s.safetyCalibration() : 0, seed + 6,
                            s.safetyUnsafeWeight()), manager);
                }
                // Closed with `manager` at the end of the run.
                RewardModel rm = RewardModel.load(RewardKind.valueOf(kind.name()), 0, dir, manager);
                List<PreferencePair> eval = heldOutPairs.stream().filter(p -> p.kind() == kind).toList();
                accuracy.put(kind, RewardModelStage.evaluate(rm, eval, 0.5));
                pairsUsed.put(kind, mix.size());
                rmDirs.put(kind, dir);
                rms.put(kind, rm);
                models.put("reward-" + kind.name().toLowerCase(java.util.Locale.ROOT), dir);
            }
            RewardModel rmH = rms.get(RewardKind.HELPFULNESS);
            RewardModel rmS = rms.get(RewardKind.SAFETY);
            seconds.put("reward_models", elapsed(t0));

            GoldEvaluation.Options evalOptions = new GoldEvaluation.Options(s.evalSamples(), s.evalTemperature(),
                    s.maxNewTokens(), seed + 7);
            Map<String, GoldEvaluation.Metrics> stages = new LinkedHashMap<>();
            Map<String, GoldEvaluation.Metrics> onTrainingPrompts = new LinkedHashMap<>();
            stages.put("sft", GoldEvaluation.evaluate(sftModel, sftModel, rmH, rmS, tokenizer, heldOut, evalOptions,
                    runDir.resolve("samples-sft.jsonl")));

            t0 = System.nanoTime();
            log.accept("[6/9] best-of-N sweep on held-out prompts");
            List<Task> sweepTasks = heldOut.subList(0, Math.min(s.sweepPrompts(), heldOut.size()));
            List<BestOfNSweep.Point> sweep = BestOfNSweep.run(sftModel, rmH, rmS, tokenizer, sweepTasks,
                    s.sweepMaxN(), BestOfNSweep.TEMPERATURES, s.maxNewTokens(), seed + 8);
            seconds.put("sweep", elapsed(t0));

            t0 = System.nanoTime();
            log.accept("[7/9] rejection sampling through the services (" + s.rsIterations() + " iterations, N="
                    + s.rsSamples() + ")");
            Path clusterDir = runDir.resolve("cluster");
            // A resumed run samples afresh: the prompt ids of an old run would be skipped as already done.
            AtomicDirectory.deleteRecursively(clusterDir);
            RejectionSamplingStage.Result rs = RejectionSamplingStage.run(clusterDir, sft,
                    rmDirs.get(RewardKind.HELPFULNESS), rmDirs.get(RewardKind.SAFETY),
                    train.stream().map(Task::toPromptRecord).toList(),
                    new RejectionSamplingStage.Options(s.rsIterations(), s.rsSamples(), s.rsTemperature(),
                            s.maxNewTokens(), s.rsTrainerBatch(), s.sequenceLength(), s.rsLearningRate(),
                            Duration.ofMinutes(20), seed + 9, sftFile, s.rsReplayPerStep()), msg -> { });
            models.put("rs", rs.model());
            double bestSamplesGold = gradeBestSamples(world, clusterDir.resolve("best-samples.jsonl"));
            LlamaModel rsModel = new LlamaModel(LlamaCheckpoint.load(rs.model(), manager, ScoreHead.ABSENT));
            stages.put("rs", GoldEvaluation.evaluate(rsModel, sftModel, rmH, rmS, tokenizer, heldOut, evalOptions,
                    runDir.resolve("samples-rs.jsonl")));
            // Diagnostic, not an acceptance metric: the same grading on prompts RS trained on shows how much of
            // its effect is memorisation of those prompts rather than behaviour that transfers to held-out ones.
            List<Task> seen = train.subList(0, Math.min(train.size(), s.diagnosticPrompts()));
            onTrainingPrompts.put("sft", GoldEvaluation.evaluate(sftModel, sftModel, rmH, rmS, tokenizer, seen,
                    evalOptions));
            onTrainingPrompts.put("rs", GoldEvaluation.evaluate(rsModel, sftModel, rmH, rmS, tokenizer, seen,
                    evalOptions));
            seconds.put("rs", elapsed(t0));

            // PPO and GRPO through the services, side by side from the rejection-sampling policy: the same
            // prompts, iterations and responses per iteration (so the same number of sampled tokens, give or take
            // response lengths), the same learning rate, KL coefficient and PPO-ptx; the reward models choose the
            // kept version on the validation prompts, and the gold oracles only watch (a diagnostic).
            GoldEvaluation.Options goldValidation = new GoldEvaluation.Options(s.evalSamples(), s.evalTemperature(),
                    s.maxNewTokens(), seed + 14);
            RolloutLearningStage.Diagnostic gold = policy -> {
                double sum = 0;
                List<GoldEvaluation.Graded> sampled = GoldEvaluation.sample(policy, tokenizer, validation,
                        goldValidation.samplesPerPrompt(), goldValidation.temperature(),
                        goldValidation.maxNewTokens(), goldValidation.seed());
                for (GoldEvaluation.Graded x : sampled) {
                    sum += dev.rlhf.world.GoldOracle.helpfulness(x.task(), x.response());
                }
                return sum / sampled.size();
            };
            Map<String, RolloutLearningStage.Result> rl = new LinkedHashMap<>();
            int step = 8;
            for (String algorithm : List.of(TrainerConfig.PPO, TrainerConfig.GRPO)) {
                boolean grpo = TrainerConfig.GRPO.equals(algorithm);
                int iterations = grpo ? s.grpoIterations() : s.ppoIterations();
                int n = grpo ? s.grpoSamplesPerPrompt() : s.ppoSamplesPerPrompt();
                t0 = System.nanoTime();
                log.accept("[" + step++ + "/9] " + algorithm.toUpperCase(java.util.Locale.ROOT)
                        + " through the services from the rejection-sampling policy (" + iterations
                        + " iterations of " + s.ppoBatch() + " responses, " + n + " per prompt)");
                Path work = runDir.resolve(algorithm);
                AtomicDirectory.deleteRecursively(work);
                TrainerConfig.Ppo ppo = TrainerConfig.Ppo.defaults().withBatch(s.ppoBatch(), s.ppoMiniBatch())
                        .withLearningRate(s.ppoLearningRate(), s.ppoBeta()).withStaleness(1, seed + 10)
                        .withPtxCoef(s.ppoPtxCoef());
                RolloutLearningStage.Result r = RolloutLearningStage.run(work, rs.model(),
                        rmDirs.get(RewardKind.HELPFULNESS), rmDirs.get(RewardKind.SAFETY), rmH, rmS,
                        train.stream().map(Task::toPromptRecord).toList(),
                        validation.stream().map(Task::toPromptRecord).toList(),
                        new RolloutLearningStage.Options(algorithm, iterations, s.ppoBatch() / n, n, 1.0,
                                s.maxNewTokens(), ppo, s.ppoEvalEvery(), s.ppoPatience(), seed + 11, sftFile,
                                s.ppoPtxPerStep(), s.sequenceLength(), Duration.ofMinutes(10)),
                        gold, manager, msg -> { });
                rl.put(algorithm, r);
                // The kept version, copied out of the cluster's checkpoints (without the value head, as served).
                Path kept = modelsDir.resolve(algorithm);
                AtomicDirectory.deleteRecursively(kept);
                LlamaModel keptModel = new LlamaModel(LlamaCheckpoint.load(r.model(), manager, ScoreHead.ABSENT));
                LlamaCheckpoint.save(keptModel.weights(), kept, LlamaCheckpoint.SaveOptions.defaults(r.bestIteration())
                        .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(r.model(), dir)));
                models.put(algorithm, kept);
                stages.put(algorithm, GoldEvaluation.evaluate(keptModel, sftModel, rmH, rmS, tokenizer, heldOut,
                        evalOptions, runDir.resolve("samples-" + algorithm + ".jsonl")));
                seconds.put(algorithm, elapsed(t0));
            }
            return new Result(s, seeds, stages, onTrainingPrompts, bestSamplesGold, accuracy, pairsUsed,
                    sweep, rs.versions(), rl, seconds, models);
        }
    }

    /** Mean gold helpfulness of what the trainer fine-tuned on during rejection sampling. */
    static double gradeBestSamples(World world, Path jsonl) throws java.io.IOException {
        List<Double> gold = dev.rlhf.world.Jsonl.read(jsonl, line -> dev.rlhf.world.GoldOracle.helpfulness(
                world.task(line.string("prompt")).orElseThrow(() -> line.error("prompt not in the world")),
                line.string("response")));
        return gold.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    private static double elapsed(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
