package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.platform.kafka.EmbeddedKafka;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.reward.RewardMain;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.sampler.SamplerMain;
import dev.rlhf.sampler.config.SamplerConfig;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.trainer.TrainerMain;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.trainer.config.TrainerConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;

/**
 * The whole system on one machine (DESIGN.md §6): an embedded Kafka broker and the policy, two reward, sampler
 * and trainer services on loopback ports, wired to each other. Closing stops them in reverse order.
 */
public final class LocalCluster implements AutoCloseable {
    /** Which models to serve and how to sample/train; null model directories get tiny random models. */
    /**
     * @param ppo null: the trainer does rejection-sampling fine-tuning on rlhf.best; else {@code algorithm} (ppo,
     *            grpo or rloo) on rlhf.rollouts
     * @param onlineRewards null: the reward models stay fixed; else both train on rlhf.preferences (starting from the
     *                      served checkpoints, into workDir/reward-checkpoints) and the reward services hot-swap
     */
    public record Settings(Path workDir, Path policy, Path helpfulness, Path safety, SamplingParams sampling,
                           int trainerBatchSize, int trainerSequenceLength, double trainerLearningRate,
                           String device, Path replayData, int replayPerStep, TrainerConfig.Ppo ppo,
                           String algorithm, OnlineRewards onlineRewards, LoraConfig lora) {
        public Settings(Path workDir, Path policy, Path helpfulness, Path safety, SamplingParams sampling,
                        int trainerBatchSize, int trainerSequenceLength, double trainerLearningRate, String device) {
            this(workDir, policy, helpfulness, safety, sampling, trainerBatchSize, trainerSequenceLength,
                    trainerLearningRate, device, null, 0);
        }

        public Settings(Path workDir, Path policy, Path helpfulness, Path safety, SamplingParams sampling,
                        int trainerBatchSize, int trainerSequenceLength, double trainerLearningRate, String device,
                        Path replayData, int replayPerStep) {
            this(workDir, policy, helpfulness, safety, sampling, trainerBatchSize, trainerSequenceLength,
                    trainerLearningRate, device, replayData, replayPerStep, null, TrainerConfig.REJECTION_SAMPLING,
                    null, null);
        }

        /** PPO on rlhf.rollouts. */
        public Settings withPpo(TrainerConfig.Ppo ppo) {
            return withRolloutLearning(TrainerConfig.PPO, ppo);
        }

        /** {@code algorithm} (ppo, grpo or rloo) on rlhf.rollouts. */
        public Settings withRolloutLearning(String algorithm, TrainerConfig.Ppo ppo) {
            if (!TrainerConfig.learnsFromRollouts(algorithm)) {
                throw new IllegalArgumentException(algorithm + " does not learn from rlhf.rollouts");
            }
            return new Settings(workDir, policy, helpfulness, safety, sampling, trainerBatchSize,
                    trainerSequenceLength, trainerLearningRate, device, replayData, replayPerStep, ppo, algorithm,
                    onlineRewards, lora);
        }

        public Settings withOnlineRewards(OnlineRewards rewards) {
            return new Settings(workDir, policy, helpfulness, safety, sampling, trainerBatchSize,
                    trainerSequenceLength, trainerLearningRate, device, replayData, replayPerStep, ppo, algorithm,
                    rewards, lora);
        }

        /** Every learner in the trainer trains LoRA adapters ({@code trainer.lora}); null: every weight. */
        public Settings withLora(LoraConfig adapter) {
            return new Settings(workDir, policy, helpfulness, safety, sampling, trainerBatchSize,
                    trainerSequenceLength, trainerLearningRate, device, replayData, replayPerStep, ppo, algorithm,
                    onlineRewards, adapter);
        }
    }

    /**
     * Online reward-model training: the kinds that learn (each from its served checkpoint) and the trainer's options
     * ({@code options}' directories and initial models are ignored: they are the cluster's).
     */
    public record OnlineRewards(java.util.Set<RewardKind> kinds, TrainerConfig.Rewards options) {
        /** Both kinds, with the recipe's options except pairs per step, learning rate and margin table. */
        public OnlineRewards(int batchSize, double learningRate, String margin) {
            this(java.util.EnumSet.allOf(RewardKind.class), recipe(batchSize, learningRate, margin));
        }

        private static TrainerConfig.Rewards recipe(int batchSize, double learningRate, String margin) {
            TrainerConfig.Rewards r = TrainerConfig.Rewards.defaults();
            return new TrainerConfig.Rewards(null, null, null, batchSize, learningRate, margin, r.safetyCalibration(),
                    r.helpfulnessSafetyShare(), r.safetyHelpfulnessShare(), r.checkpointEverySteps(),
                    r.helpfulnessScheduleSteps(), r.safetyScheduleSteps());
        }
    }

    /** Every server of the embedded system, gRPC and metrics alike, binds loopback only. */
    private static final String LOOPBACK = "127.0.0.1";

    private final List<AutoCloseable> started = new ArrayList<>();
    private final EmbeddedKafka kafka;
    private final PolicyMain policy;
    private final RewardMain helpfulness;
    private final RewardMain safety;
    private final SamplerMain sampler;
    private final TrainerMain trainer;
    private final Path endpointsFile;

    private LocalCluster(Settings s, Consumer<String> log) throws Exception {
        Files.createDirectories(s.workDir());
        Path policyDir = s.policy() != null ? s.policy()
                : orCreate(s.workDir().resolve("models/policy"), 1, false);
        Path helpDir = s.helpfulness() != null ? s.helpfulness()
                : orCreate(s.workDir().resolve("models/reward-helpfulness"), 2, true);
        Path safeDir = s.safety() != null ? s.safety()
                : orCreate(s.workDir().resolve("models/reward-safety"), 3, true);

        // The experience log is durable (DESIGN.md): kept under the work directory, so a restart resumes topics,
        // offsets and transactions where they were.
        kafka = track(EmbeddedKafka.builder().dataDirectory(s.workDir().resolve("kafka")).start());
        try (Admin admin = KafkaClients.admin(kafka.bootstrapServers(), "rlhf-up")) {
            new TopicAdmin(1, (short) 1).ensureTopics(admin);
        }
        String bootstrap = kafka.bootstrapServers();
        Duration grace = Duration.ofSeconds(10);
        policy = track(PolicyMain.start(new PolicyConfig("127.0.0.1", 0, policyDir, 0, 1024, 64,
                64 << 20, s.device(), 0, true, bootstrap, grace), log));
        helpfulness = track(RewardMain.start(new RewardConfig(RewardKind.HELPFULNESS, "127.0.0.1", 0, helpDir, 0, 64,
                256, 64 << 20, s.device(), 0, true, bootstrap, grace), log));
        safety = track(RewardMain.start(new RewardConfig(RewardKind.SAFETY, "127.0.0.1", 0, safeDir, 0, 64, 256,
                64 << 20, s.device(), 0, true, bootstrap, grace), log));
        sampler = track(SamplerMain.start(new SamplerConfig("127.0.0.1:" + policy.port(),
                "127.0.0.1:" + helpfulness.port(), "127.0.0.1:" + safety.port(), s.sampling(), Llama2Recipe.SAFETY_THRESHOLD, 8,
                Duration.ofSeconds(120), 5, Duration.ofMillis(200), 10, Duration.ofSeconds(5), "rlhf-sampler",
                "rlhf-up-sampler", bootstrap, 0, 64 << 20).withMetricsHost(LOOPBACK), log));
        TrainerConfig trainerConfig = new TrainerConfig(bootstrap, s.workDir().resolve("checkpoints"), policyDir,
                s.trainerBatchSize(), s.trainerBatchSize(), s.trainerSequenceLength(), s.trainerLearningRate(), 1,
                s.device(), Duration.ofMillis(200), 0, s.replayData(), s.replayPerStep()).withMetricsHost(LOOPBACK);
        if (s.ppo() != null) {
            trainerConfig = trainerConfig.withAlgorithm(s.algorithm(), s.ppo());
        }
        if (s.onlineRewards() != null) {
            TrainerConfig.Rewards o = s.onlineRewards().options();
            java.util.Set<RewardKind> kinds = s.onlineRewards().kinds();
            trainerConfig = trainerConfig.withRewards(new TrainerConfig.Rewards(
                    s.workDir().resolve("reward-checkpoints"), kinds.contains(RewardKind.HELPFULNESS) ? helpDir : null,
                    kinds.contains(RewardKind.SAFETY) ? safeDir : null, o.batchSize(), o.learningRate(), o.margin(),
                    o.safetyCalibration(), o.helpfulnessSafetyShare(), o.safetyHelpfulnessShare(),
                    o.checkpointEverySteps(), o.helpfulnessScheduleSteps(), o.safetyScheduleSteps()));
        }
        trainerConfig = trainerConfig.withLora(s.lora());
        trainer = track(TrainerMain.start(trainerConfig, new TopicAdmin(1, (short) 1), log));
        endpointsFile = s.workDir().resolve("endpoints.json");
        writeEndpoints();
    }

    public static LocalCluster start(Settings settings, Consumer<String> log) throws Exception {
        return new LocalCluster(settings, log);
    }

    private static Path orCreate(Path dir, long seed, boolean scoreHead) {
        return Files.exists(dir.resolve("manifest.json")) ? dir : ModelFactory.tinyForTests(dir, seed, scoreHead);
    }

    private <T extends AutoCloseable> T track(T service) {
        started.add(service);
        return service;
    }

    public String kafka() {
        return kafka.bootstrapServers();
    }

    /** The embedded broker's cluster id: the same after a restart on the same work directory. */
    public String kafkaClusterId() {
        return kafka.clusterId();
    }

    public String policyAddress() {
        return "127.0.0.1:" + policy.port();
    }

    public String helpfulnessAddress() {
        return "127.0.0.1:" + helpfulness.port();
    }

    public String safetyAddress() {
        return "127.0.0.1:" + safety.port();
    }

    public PolicyMain policy() {
        return policy;
    }

    public RewardMain helpfulness() {
        return helpfulness;
    }

    public RewardMain safety() {
        return safety;
    }

    public SamplerMain sampler() {
        return sampler;
    }

    public TrainerMain trainer() {
        return trainer;
    }

    public Path endpointsFile() {
        return endpointsFile;
    }

    /**
     * Why the loop can no longer make progress: a trainer loop that failed or a sampler that stopped with an
     * error; null while both run. Callers waiting for policy versions check it instead of waiting out a timeout.
     */
    public Throwable failure() {
        if (trainer.failure() != null) {
            return trainer.failure();
        }
        java.util.concurrent.CompletableFuture<Void> s = sampler.terminated();
        if (s.isCompletedExceptionally()) {
            try {
                s.join();
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                return e.getCause() != null ? e.getCause() : e;
            }
        }
        return null;
    }

    /** {"policy": "127.0.0.1:PORT", "reward-helpfulness": ..., "reward-safety": ..., "kafka": ...}, atomically. */
    private void writeEndpoints() throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("policy", policyAddress());
        o.addProperty("reward-helpfulness", helpfulnessAddress());
        o.addProperty("reward-safety", safetyAddress());
        o.addProperty("kafka", kafka());
        o.addProperty("policy-metrics", "127.0.0.1:" + policy.metricsPort());
        o.addProperty("sampler-metrics", "127.0.0.1:" + sampler.metricsPort());
        Path tmp = endpointsFile.resolveSibling(".endpoints.json.tmp");
        Files.writeString(tmp, new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n",
                StandardCharsets.UTF_8);
        Files.move(tmp, endpointsFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public void close() {
        List<AutoCloseable> reverse = new ArrayList<>(started);
        Collections.reverse(reverse);
        for (AutoCloseable c : reverse) {
            try {
                c.close();
            } catch (Exception e) {
                System.err.println("rlhf up: error while stopping " + c.getClass().getSimpleName() + ": " + e);
            }
        }
        started.clear();
    }
}
