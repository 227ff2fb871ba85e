package dev.rlhf.launcher.pipeline;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.launcher.LocalCluster;
import dev.rlhf.launcher.ProgressBar;
import dev.rlhf.launcher.RecordPublisher;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.generate.FinishReason;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.vocabulary.RewardCombiner;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.world.PromptRecord;
import java.nio.file.Files;
import dev.rlhf.llama.lora.LoraConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * PPO, GRPO or RLOO through the real services (LLaMA 2 §3.2.3; the learner is the trainer service's, {@code
 * trainer.algorithm}): each iteration publishes a batch of training prompts to {@code rlhf.prompts}; the sampler
 * draws N samples per prompt from the policy service, scores them with both reward services and writes every
 * candidate to {@code rlhf.rollouts}; the trainer runs one iteration on them and publishes a policy version, which
 * the policy service hot-swaps before the next batch is sent (so every rollout is fresh).
 * <p>Every {@code evalEvery} iterations the served version is scored on validation prompts by the reward models
 * (the mean combined reward of greedy answers), the only judge a real run has; the best version is the stage's
 * result, and {@code patience} validations without improvement stop it. A {@link Diagnostic} (the demo passes the
 * gold oracles) is recorded next to it and never chooses.
 */
public final class RolloutLearningStage {
    private RolloutLearningStage() {}

    /**
     * @param algorithm ppo, grpo or rloo
     * @param promptsPerIteration prompts sent per iteration; the trainer's batch is this times samplesPerPrompt
     * @param ptxData demonstrations (JSONL prompt/response) for PPO-ptx, used when {@code ppo.ptxCoef() > 0}
     */
    public record Options(String algorithm, int iterations, int promptsPerIteration, int samplesPerPrompt,
                          double temperature, int maxNewTokens, TrainerConfig.Ppo ppo, int evalEvery, int patience,
                          long seed, Path ptxData, int ptxPerStep, int sequenceLength, Duration iterationTimeout,
                          LoraConfig lora, String device) {
        /** Full fine-tuning, on the CPU. */
        public Options(String algorithm, int iterations, int promptsPerIteration, int samplesPerPrompt,
                       double temperature, int maxNewTokens, TrainerConfig.Ppo ppo, int evalEvery, int patience,
                       long seed, Path ptxData, int ptxPerStep, int sequenceLength, Duration iterationTimeout) {
            this(algorithm, iterations, promptsPerIteration, samplesPerPrompt, temperature, maxNewTokens, ppo,
                    evalEvery, patience, seed, ptxData, ptxPerStep, sequenceLength, iterationTimeout, null, "cpu");
        }

        /** The same, training a LoRA adapter (null: every weight). */
        public Options withLora(LoraConfig adapter) {
            return new Options(algorithm, iterations, promptsPerIteration, samplesPerPrompt, temperature,
                    maxNewTokens, ppo, evalEvery, patience, seed, ptxData, ptxPerStep, sequenceLength,
                    iterationTimeout, adapter, device);
        }

        /** The same, with the stage's services on {@code device} (cpu, gpu or auto). */
        public Options withDevice(String device) {
            return new Options(algorithm, iterations, promptsPerIteration, samplesPerPrompt, temperature,
                    maxNewTokens, ppo, evalEvery, patience, seed, ptxData, ptxPerStep, sequenceLength,
                    iterationTimeout, lora, device);
        }

        public Options {
            if (!TrainerConfig.learnsFromRollouts(algorithm)) {
                throw new IllegalArgumentException("algorithm must be ppo, grpo or rloo, got " + algorithm);
            }
            if (iterations < 1 || promptsPerIteration < 1 || samplesPerPrompt < 1 || evalEvery < 1 || patience < 1
                    || promptsPerIteration * samplesPerPrompt < 2) {
                throw new IllegalArgumentException("invalid " + algorithm + " stage options: " + iterations
                        + " iterations of " + promptsPerIteration + " x " + samplesPerPrompt
                        + " responses, eval every " + evalEvery + ", patience " + patience);
            }
        }

        int batchResponses() {
            return promptsPerIteration * samplesPerPrompt;
        }
    }

    /** A score of a policy that is recorded but never chooses a checkpoint (the demo: gold helpfulness). */
    @FunctionalInterface
    public interface Diagnostic {
        double score(LlamaModel policy);
    }

    /**
     * One iteration, as the trainer recorded it in the version's checkpoint (means over the batch).
     * @param validationReward mean combined RM reward of greedy validation answers (null: not evaluated)
     * @param validationDiagnostic the {@link Diagnostic} of the same version (null: not evaluated or none)
     */
    public record Iteration(int iteration, double meanCombined, double meanKl, double policyLoss, double valueLoss,
                            double clipFraction, double approxKl, double truncatedRate, Double validationReward,
                            Double validationDiagnostic) {}

    /**
     * @param model the kept version's checkpoint (the start model when no version beat it)
     * @param sampledTokens response tokens the trainer learned from, over the stage
     */
    public record Result(Path model, List<Iteration> iterations, int bestIteration, boolean stoppedEarly,
                         long sampledTokens, double initialValidationReward) {}

    public static Result run(Path workDir, Path start, Path rmHelpfulnessDir, Path rmSafetyDir,
                             RewardModel rmHelpfulness, RewardModel rmSafety, List<PromptRecord> train,
                             List<PromptRecord> validation, Options o, Diagnostic diagnostic, NDManager parent,
                             Consumer<String> log) throws Exception {
        if (train.isEmpty() || validation.isEmpty()) {
            throw new IllegalArgumentException("need training and validation prompts");
        }
        SamplingParams sampling = new SamplingParams(o.samplesPerPrompt(), o.maxNewTokens(), o.temperature(), 1.0,
                0, o.seed(), List.of());
        TrainerConfig.Ppo ppo = o.ppo().withBatch(o.batchResponses(), Math.min(o.ppo().miniBatchSize(),
                o.batchResponses()));
        LocalCluster.Settings settings = new LocalCluster.Settings(workDir, start, rmHelpfulnessDir, rmSafetyDir,
                sampling, o.batchResponses(), o.sequenceLength(), ppo.learningRate(), o.device(),
                ppo.ptxCoef() > 0 ? o.ptxData() : null, ppo.ptxCoef() > 0 ? o.ptxPerStep() : 0)
                .withRolloutLearning(o.algorithm(), ppo).withLora(o.lora());
        SplittableRandom random = new SplittableRandom(o.seed());
        List<Iteration> history = new ArrayList<>();
        try (NDManager manager = parent.newSubManager(); LlamaTokenizer tokenizer = LlamaTokenizer.load(start)) {
            Validator validator = new Validator(tokenizer, rmHelpfulness, rmSafety, validation, o.maxNewTokens());
            double initial;
            try (NDManager m = manager.newSubManager()) {
                initial = validator.reward(new LlamaModel(LlamaCheckpoint.load(start, m, ScoreHead.ABSENT)));
            }
            double best = initial;
            int bestIteration = 0;
            int sinceBest = 0;
            boolean stopped = false;
            long sampledTokens = 0;
            try (LocalCluster cluster = LocalCluster.start(settings, log);
                 KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                         KafkaClients.producerConfig(cluster.kafka(), "rlhf-demo-" + o.algorithm()));
                 ProgressBar bar = new ProgressBar(o.algorithm(), o.iterations(), "iterations")) {
                ServedVersions served = new ServedVersions(cluster);
                long startVersion = served.served();
                for (int it = 1; it <= o.iterations(); it++) {
                    List<Prompt> batch = new ArrayList<>(o.promptsPerIteration());
                    for (int i = 0; i < o.promptsPerIteration(); i++) {
                        PromptRecord t = train.get(random.nextInt(train.size()));
                        // A new id per draw: the sampler derives its seed from it.
                        batch.add(Prompt.newBuilder().setId(String.format(Locale.ROOT, "%s%d-%d-%s", o.algorithm(),
                                it, i, t.id())).setText(t.text()).setSafetyTagged(t.safetyTagged())
                                .setSource("demo-" + o.algorithm() + "-" + it).build());
                    }
                    RecordPublisher.prompts(producer, batch, () -> { });
                    long version = startVersion + it;
                    served.await(version, o.iterationTimeout(), o.algorithm() + " iteration " + it, v -> { });
                    Path dir = versionDir(workDir, version);
                    JsonObject meta = Manifest.read(dir).metadata();
                    sampledTokens = meta.get("sampled_tokens").getAsLong();
                    Double validationReward = null;
                    Double validationDiagnostic = null;
                    if (it % o.evalEvery() == 0 || it == o.iterations()) {
                        try (NDManager m = manager.newSubManager()) {
                            LlamaModel policy = new LlamaModel(LlamaCheckpoint.load(dir, m, ScoreHead.ABSENT));
                            validationReward = validator.reward(policy);
                            validationDiagnostic = diagnostic == null ? null : diagnostic.score(policy);
                        }
                        if (validationReward > best) {
                            best = validationReward;
                            bestIteration = it;
                            sinceBest = 0;
                        } else if (++sinceBest >= o.patience()) {
                            stopped = it < o.iterations();
                        }
                    }
                    Iteration row = new Iteration(it, number(meta, "mean_combined"), number(meta, "mean_kl"),
                            number(meta, "policy_loss"), number(meta, "value_loss"), number(meta, "clip_fraction"),
                            number(meta, "approx_kl"), number(meta, "truncated_rate"), validationReward,
                            validationDiagnostic);
                    history.add(row);
                    bar.step(1, String.format(Locale.ROOT, "Rc %.3f KL %.3f%s", row.meanCombined(), row.meanKl(),
                            validationReward == null ? "" : String.format(Locale.ROOT, " val %.3f", validationReward)));
                    if (stopped) {
                        break;
                    }
                }
                Path kept = bestIteration == 0 ? start : versionDir(workDir, startVersion + bestIteration);
                return new Result(kept, history, bestIteration, stopped, sampledTokens, initial);
            }
        }
    }

    static Path versionDir(Path workDir, long version) {
        Path dir = workDir.resolve("checkpoints").resolve(String.format(Locale.ROOT, "policy-v%06d", version));
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("the trainer did not leave " + dir);
        }
        return dir;
    }

    private static double number(JsonObject meta, String key) {
        return meta.has(key) ? meta.get(key).getAsDouble() : Double.NaN;
    }

    /**
     * The mean combined reward (LLaMA 2 combination, sigmoid scale) of greedy answers to the validation prompts,
     * scored as the reward services score them (no {@code </s>} after a truncated answer).
     */
    static final class Validator {
        private final LlamaTokenizer tokenizer;
        private final RewardModel helpfulness;
        private final RewardModel safety;
        private final List<PromptRecord> prompts;
        private final int maxNewTokens;
        private final RewardCombiner combiner = RewardCombiner.llama2();

        Validator(LlamaTokenizer tokenizer, RewardModel helpfulness, RewardModel safety, List<PromptRecord> prompts,
                  int maxNewTokens) {
            this.tokenizer = tokenizer;
            this.helpfulness = helpfulness;
            this.safety = safety;
            this.prompts = prompts;
            this.maxNewTokens = maxNewTokens;
        }

        double reward(LlamaModel policy) {
            Generator generator = new Generator(policy, tokenizer::decode, tokenizer.padId());
            List<int[]> ids = prompts.stream().map(p -> PromptFormat.chatPrompt(tokenizer, p.text())).toList();
            List<List<Sample>> samples = generator.generate(ids, SamplingParams.greedy(maxNewTokens)).samples();
            List<String> texts = new ArrayList<>();
            boolean[] truncated = new boolean[prompts.size()];
            for (int i = 0; i < prompts.size(); i++) {
                Sample s = samples.get(i).get(0);
                texts.add(s.text());
                truncated[i] = s.finishReason() == FinishReason.LENGTH;
            }
            List<String> promptTexts = prompts.stream().map(PromptRecord::text).toList();
            List<RewardModel.Score> h = helpfulness.score(promptTexts, texts, truncated);
            List<RewardModel.Score> s = safety.score(promptTexts, texts, truncated);
            double sum = 0;
            for (int i = 0; i < prompts.size(); i++) {
                sum += combiner.combined(prompts.get(i).safetyTagged(), h.get(i).probability(),
                        s.get(i).probability());
            }
            return sum / prompts.size();
        }
    }
}
