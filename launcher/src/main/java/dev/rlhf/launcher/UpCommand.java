package dev.rlhf.launcher;

import dev.rlhf.sampler.domain.SamplingSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf up}: every service on loopback, until Ctrl-C or SIGTERM. */
@Command(name = "up", mixinStandardHelpOptions = true,
        description = {"Start the embedded Kafka broker and all services (policy, helpfulness and safety reward, "
                + "sampler, trainer) on loopback; print their addresses and write them to <dir>/endpoints.json.",
            "Without model directories, tiny random models are created in <dir>/models. Stops cleanly on Ctrl-C or "
                    + "SIGTERM. Then: rlhf prompts send FILE --kafka <kafka>; rlhf generate --remote <policy> ..."})
final class UpCommand implements Callable<Integer> {
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

    @Option(names = "--trainer-lr", defaultValue = "2e-5", description = "Trainer learning rate (default: ${DEFAULT-VALUE}).")
    double learningRate;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws Exception {
        for (Path p : new Path[] {policy, helpfulness, safety}) {
            if (p != null && !Files.isDirectory(p)) {
                throw new IllegalArgumentException("model directory not found: " + p);
            }
        }
        System.err.println("rlhf up: starting broker and services ...");
        LocalCluster cluster = LocalCluster.start(new LocalCluster.Settings(dir, policy, helpfulness, safety,
                new SamplingSettings(n, temperature, 1.0, maxNewTokens, 0), batchSize, 256, learningRate, device),
                msg -> System.err.println("  " + msg));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("rlhf up: stopping ...");
            cluster.close();
            stopped.countDown();
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
