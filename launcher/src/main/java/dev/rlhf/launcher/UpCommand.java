package dev.rlhf.launcher;

import dev.rlhf.platform.tracing.Tracing;
import dev.rlhf.vocabulary.Llama2Recipe;
import dev.rlhf.vocabulary.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import dev.rlhf.trainer.config.TrainerConfig;
import picocli.CommandLine.Option;

/** {@code rlhf up}: every service on loopback, until Ctrl-C or SIGTERM. */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = {"Start the embedded Kafka broker and all services (policy, helpfulness and safety reward, "
                + "sampler, trainer) on loopback; print their addresses and write them to <dir>/endpoints.json.",
            "Without model directories, tiny random models are created in <dir>/models. The broker's log (the "
                    + "experience: prompts, samples, rollouts, preferences, committed offsets) is kept in <dir>/kafka "
                    + "and the trainer's checkpoints in <dir>/checkpoints, so starting again with the same --dir "
                    + "resumes where it stopped. Stops cleanly on Ctrl-C or SIGTERM. Then: rlhf prompts send FILE "
                    + "--kafka <kafka>; rlhf generate --remote <policy> ..."})
final class UpCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    AdapterOptions.Lora lora = new AdapterOptions.Lora();

    @Option(names = "--dir", defaultValue = "runs/up", description = "Working directory (default: ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--policy", description = "Policy checkpoint to serve.")
    Path policy;

    @Option(names = "--reward-helpfulness", description = "Helpfulness reward checkpoint.")
    Path helpfulness;

    @Option(names = "--reward-safety", description = "Safety reward checkpoint.")
    Path safety;

    @Option(names = "--n", defaultValue = "4", description = "Samples per prompt (default: ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--temperature", defaultValue = "1.0", description = "Default: ${DEFAULT-VALUE}.")
    double temperature;

    @Option(names = "--max-new-tokens", defaultValue = "32", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--trainer-batch-size", defaultValue = "8",
            description = "Best samples per SFT step; every step publishes a policy version (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--trainer-lr", defaultValue = "" + Llama2Recipe.SFT_LEARNING_RATE, description = "Trainer learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--algorithm", defaultValue = "rejection-sampling",
            description = "How the trainer improves the policy: rejection-sampling (fine-tunes on rlhf.best), or ppo, "
                    + "grpo or rloo (on rlhf.rollouts; the recipe's PPO settings, trainer-batch-size responses per "
                    + "iteration, trainer-lr as its learning rate; grpo and rloo take the N samples of a prompt as "
                    + "the group) (default: ${DEFAULT-VALUE}).")
    String algorithm;

    @Option(names = "--ppo-max-staleness", defaultValue = "1",
            description = "PPO drops rollouts sampled more than this many policy versions ago (default: ${DEFAULT-VALUE}).")
    int maxStaleness;

    @Option(names = "--online-rewards",
            description = "Also train both reward models on rlhf.preferences (`rlhf preferences send`); the reward "
                    + "services hot-swap each new version.")
    boolean onlineRewards;

    @Option(names = "--reward-batch-size", defaultValue = "8",
            description = "Preference pairs per online reward-model step (default: ${DEFAULT-VALUE}).")
    int rewardBatchSize;

    @Option(names = "--reward-lr", defaultValue = "" + Llama2Recipe.RM_LEARNING_RATE,
            description = "Online reward-model learning rate (default: ${DEFAULT-VALUE}).")
    double rewardLearningRate;

    @Override
    public Integer call() throws Exception {
        for (Path p : new Path[] {policy, helpfulness, safety}) {
            if (p != null && !Files.isDirectory(p)) {
                throw new IllegalArgumentException("model directory not found: " + p);
            }
        }
        LocalCluster.Settings settings = new LocalCluster.Settings(dir, policy, helpfulness, safety,
                new SamplingParams(n, maxNewTokens, temperature, 1.0, 0, 0, java.util.List.of()), batchSize, 256, learningRate, device);
        switch (algorithm) {
            case TrainerConfig.REJECTION_SAMPLING -> { }
            case TrainerConfig.PPO, TrainerConfig.GRPO, TrainerConfig.RLOO -> {
                if (batchSize < 2 || maxStaleness < 0) {
                    throw new IllegalArgumentException(algorithm + " needs --trainer-batch-size >= 2 and "
                            + "--ppo-max-staleness >= 0");
                }
                TrainerConfig.Ppo recipe = TrainerConfig.Ppo.defaults();
                settings = settings.withRolloutLearning(algorithm, recipe.withBatch(batchSize,
                        Math.min(batchSize, recipe.miniBatchSize())).withLearningRate(learningRate, recipe.beta())
                        .withStaleness(maxStaleness, 0));
            }
            default -> throw new IllegalArgumentException("--algorithm must be rejection-sampling, ppo, grpo or "
                    + "rloo, got " + algorithm);
        }
        if (onlineRewards) {
            if (rewardBatchSize < 1 || !(rewardLearningRate > 0)) {
                throw new IllegalArgumentException("--reward-batch-size must be >= 1 and --reward-lr > 0");
            }
            settings = settings.withOnlineRewards(new LocalCluster.OnlineRewards(rewardBatchSize,
                    rewardLearningRate, "small"));
        }
        settings = settings.withLora(lora.config());
        System.err.println("rlhf up: starting broker and services ...");
        if (Tracing.installFromEnvironment("rlhf-up")) {
            System.err.println("rlhf up: exporting traces as the OTEL_* variables say");
        }
        LocalCluster cluster;
        try {
            cluster = LocalCluster.start(settings, msg -> System.err.println("  " + msg));
        } catch (Exception | Error e) {
            Tracing.shutdown();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("rlhf up: stopping ...");
            try {
                cluster.close();
            } finally {
                Tracing.shutdown();
                stopped.countDown();
            }
        }, "rlhf-up-shutdown"));
        System.out.println("kafka              " + cluster.kafka());
        System.out.println("policy             " + cluster.policyAddress());
        System.out.println("reward-helpfulness " + cluster.helpfulnessAddress());
        System.out.println("reward-safety      " + cluster.safetyAddress());
        System.out.println("endpoints written to " + cluster.endpointsFile() + "; Ctrl-C to stop");
        stopped.await();
        return 0;
    }
}
