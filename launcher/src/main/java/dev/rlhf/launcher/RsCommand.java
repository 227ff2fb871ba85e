package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import ai.djl.ndarray.NDManager;
import dev.rlhf.launcher.pipeline.BestOfNSweep;
import dev.rlhf.launcher.pipeline.RejectionSamplingStage;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.world.PromptRecord;
import dev.rlhf.world.Task;
import dev.rlhf.world.WorldData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code rlhf rs}: rejection-sampling iterations through the services, and the best-of-N sweep. */
@Command(name = "rs", mixinStandardHelpOptions = true, subcommands = {RsCommand.Run.class, RsCommand.Sweep.class},
        description = "Rejection sampling (LLaMA 2 §3.2.3): `rlhf rs run` iterates through the services, "
                + "`rlhf rs sweep` draws the max-reward-among-N curves.")
final class RsCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "missing subcommand (run, sweep)");
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Rejection-sampling fine-tuning through the real services: starts the embedded broker, "
                    + "policy, two reward, sampler and trainer services; each iteration sends the prompts, the "
                    + "sampler keeps the best of N by the combined reward, the trainer fine-tunes on the best and "
                    + "publishes a policy version the policy service hot-swaps before the next iteration."})
    static final class Run implements Callable<Integer> {
        @Mixin
        ModelsOptions models;

        @Mixin
        AdapterOptions.Lora lora = new AdapterOptions.Lora();

        @Option(names = "--prompts", required = true, description = "JSONL prompts, {\"id\", \"text\", "
                + "\"safety_tagged\"} (or \"prompt\" for the text); any prompts, not only the synthetic world's.")
        Path prompts;

        @Option(names = "--work-dir", required = true, description = "Directory for the cluster's checkpoints "
                + "(must not exist).")
        Path workDir;

        @Option(names = "--iterations", defaultValue = "2", description = "Default: ${DEFAULT-VALUE}.")
        int iterations;

        @Option(names = "--n", defaultValue = "8", description = "Samples per prompt (default: ${DEFAULT-VALUE}).")
        int n;

        @Option(names = "--temperature", defaultValue = "0.7", description = "Default: ${DEFAULT-VALUE}.")
        double temperature;

        @Option(names = "--max-new-tokens", defaultValue = "24", description = "Default: ${DEFAULT-VALUE}.")
        int maxNewTokens;

        @Option(names = "--batch-size", defaultValue = "16", description = "Best samples per trainer step "
                + "(default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--lr", defaultValue = "" + Llama2Recipe.SFT_LEARNING_RATE, description = "Trainer learning rate (default: ${DEFAULT-VALUE}, "
                + "the recipe's SFT lr).")
        double lr;

        @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
        long seed;

        @Option(names = "--replay", description = "JSONL {prompt, response} demonstrations (the SFT set) replayed next "
                + "to the best samples.")
        Path replay;

        @Option(names = "--replay-per-step", defaultValue = "0", description = "Demonstrations per trainer step "
                + "(default: ${DEFAULT-VALUE}).")
        int replayPerStep;

        @Override
        public Integer call() throws Exception {
            models.checkedDevice();
            if (Files.exists(workDir)) {
                throw new IllegalArgumentException("--work-dir already exists: " + workDir);
            }
            List<PromptRecord> records = WorldData.readPrompts(prompts);
            if (records.isEmpty()) {
                throw new IllegalArgumentException(prompts + ": no prompts");
            }
            checkContext(records);
            RejectionSamplingStage.Result r = RejectionSamplingStage.run(workDir, models.policy, models.rmHelpfulness,
                    models.rmSafety, records,
                    // Packed rows of 512 tokens, or the policy's context when it is shorter (the trainer caps it).
                    new RejectionSamplingStage.Options(iterations, n, temperature, maxNewTokens, batchSize, 512, lr,
                            Duration.ofHours(2), seed, replay, replayPerStep).withLora(lora.config())
                            .withDevice(models.device),
                    System.err::println);
            System.out.println("rs: policy versions after each iteration " + r.versions() + "; newest " + r.model()
                    + "; best samples in " + workDir.resolve("best-samples.jsonl"));
            return 0;
        }

        /** A prompt the policy service cannot complete would be dead-lettered and the iteration never end. */
        private void checkContext(List<PromptRecord> records) {
            int context = dev.rlhf.llama.checkpoint.LlamaCheckpoint.readConfig(models.policy)
                    .maxPositionEmbeddings();
            try (LlamaTokenizer tokenizer = LlamaTokenizer.load(models.policy)) {
                for (PromptRecord r : records) {
                    int length = dev.rlhf.llama.tokenizer.PromptFormat.chatPrompt(tokenizer, r.text()).length;
                    if (length + maxNewTokens > context) {
                        throw new IllegalArgumentException(prompts + ": prompt " + r.id() + " is " + length
                                + " tokens; with --max-new-tokens " + maxNewTokens + " it needs "
                                + (length + maxNewTokens) + " positions, the policy has " + context);
                    }
                }
            }
        }
    }

    @Command(name = "sweep", mixinStandardHelpOptions = true,
            description = "Max combined reward among N samples vs N for several temperatures (LLaMA 2 Figures 7-8), "
                    + "and the gold helpfulness of the chosen sample; writes best-of-n.csv and best-of-n.png.")
    static final class Sweep implements Callable<Integer> {
        @Mixin
        ModelsOptions models;

        @Option(names = "--prompts", required = true, description = "JSONL prompts of the synthetic world "
                + "(held-out ones).")
        Path prompts;

        @Option(names = "--out", required = true, description = "Directory for the CSV and PNG.")
        Path out;

        @Option(names = "--max-n", defaultValue = "64", description = "Largest N, a power of two "
                + "(default: ${DEFAULT-VALUE}).")
        int maxN;

        @Option(names = "--temperatures", split = ",", defaultValue = "0.6,0.8,1.0,1.2,1.5",
                description = "Default: ${DEFAULT-VALUE}.")
        double[] temperatures;

        @Option(names = "--max-new-tokens", defaultValue = "24", description = "Default: ${DEFAULT-VALUE}.")
        int maxNewTokens;

        @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
        long seed;

        @Override
        public Integer call() throws Exception {
            models.checkedDevice();
            if (maxN < 1 || maxN > 64 || Integer.bitCount(maxN) != 1) {
                throw new IllegalArgumentException("--max-n must be a power of two in [1, 64], got " + maxN);
            }
            for (double t : temperatures) {
                if (!(t > 0) || t > 10) {
                    throw new IllegalArgumentException("--temperatures must be in (0, 10], got " + t);
                }
            }
            List<Task> tasks = WorldPrompts.read(prompts);
            try (NDManager m = models.manager(); GradMode.Restore ignored = GradMode.disabled();
                 LlamaTokenizer tokenizer = LlamaTokenizer.load(models.policy);
                 RewardModel h = models.helpfulness(m);
                 RewardModel s = models.safety(m)) {
                LlamaModel p = new LlamaModel(LlamaCheckpoint.load(models.policy, m, ScoreHead.ABSENT));
                List<BestOfNSweep.Point> points = BestOfNSweep.run(p, h, s, tokenizer, tasks, maxN,
                        Arrays.stream(temperatures).boxed().toList(), maxNewTokens, seed);
                Files.createDirectories(out);
                BestOfNSweep.writeCsv(points, out.resolve("best-of-n.csv"));
                BestOfNSweep.writePng(points, out.resolve("best-of-n.png"));
                for (BestOfNSweep.Point pt : points) {
                    System.out.printf(java.util.Locale.ROOT, "T=%.1f N=%-2d max reward %.3f, gold of best %.3f%n",
                            pt.temperature(), pt.n(), pt.maxReward(), pt.goldOfBest());
                }
            }
            return 0;
        }
    }
}
