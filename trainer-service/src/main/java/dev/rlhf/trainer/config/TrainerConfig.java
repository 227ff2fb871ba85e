package dev.rlhf.trainer.config;

import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import dev.rlhf.platform.kafka.KafkaKeys;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Trainer-service settings; the only place its config keys are read. */
public record TrainerConfig(String bootstrapServers, Path checkpointDir, Path initialPolicy, int batchSize,
                            int microBatchSize, int sequenceLength, double learningRate, int checkpointEverySteps,
                            String device, Duration pollTimeout, int metricsPort, Path replayData,
                            int replayPerStep) {

    /** Without replay of demonstrations. */
    public TrainerConfig(String bootstrapServers, Path checkpointDir, Path initialPolicy, int batchSize,
                         int microBatchSize, int sequenceLength, double learningRate, int checkpointEverySteps,
                         String device, Duration pollTimeout, int metricsPort) {
        this(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize, sequenceLength, learningRate,
                checkpointEverySteps, device, pollTimeout, metricsPort, null, 0);
    }

    public static final ConfigKey<String> CHECKPOINT_DIR = ConfigKey.string("trainer.checkpoint-dir", null,
            "Directory of policy checkpoints (policy-vNNNNNN), shared with the policy service.");
    public static final ConfigKey<String> INITIAL_POLICY = ConfigKey.string("trainer.initial-policy", null,
            "Checkpoint to start from when the checkpoint directory is empty (the SFT model, version 0).");
    public static final ConfigKey<Integer> BATCH_SIZE = ConfigKey.integer("trainer.batch-size", 64, 1, 65536,
            "Best-of-N samples per SFT step (LLaMA 2 SFT batch: 64).");
    public static final ConfigKey<Integer> MICRO_BATCH_SIZE = ConfigKey.integer("trainer.micro-batch-size", 8, 1,
            65536, "Packed rows per forward/backward pass; gradients accumulate over the batch.");
    public static final ConfigKey<Integer> SEQUENCE_LENGTH = ConfigKey.integer("trainer.sequence-length", 512, 2,
            4096, "Packed sequence length (at most the model context).");
    public static final ConfigKey<Double> LEARNING_RATE = ConfigKey.decimal("trainer.learning-rate", 2e-5, 1e-9, 1.0,
            "Constant learning rate of the online SFT steps (LLaMA 2 §3.1: 2e-5).");
    public static final ConfigKey<Integer> CHECKPOINT_EVERY = ConfigKey.integer("trainer.checkpoint-every-steps", 1,
            1, 1_000_000, "Publish a new policy version every N steps.");
    public static final ConfigKey<String> DEVICE = ConfigKey.oneOf("trainer.device", List.of("cpu", "gpu", "auto"),
            "cpu", "Where training runs.");
    public static final ConfigKey<Duration> POLL_TIMEOUT = ConfigKey.duration("trainer.poll-timeout",
            Duration.ofMillis(500), "Kafka poll timeout.");
    public static final ConfigKey<Integer> METRICS_PORT = ConfigKey.integer("trainer.metrics-port", 9467, 0, 65535,
            "Prometheus /metrics port (0 = any free port).");

    public static final ConfigKey<String> REPLAY_DATA = ConfigKey.string("trainer.replay-data", "",
            "Ours: JSONL {prompt, response} demonstrations (the SFT set) replayed next to the best samples so that "
            + "rejection sampling does not erode what SFT taught; empty = none.");
    public static final ConfigKey<Integer> REPLAY_PER_STEP = ConfigKey.integer("trainer.replay-per-step", 0, 0,
            65536, "Demonstrations from trainer.replay-data added to each step (0 = off).");

    public static ConfigSchema schema() {
        List<ConfigKey<?>> keys = new ArrayList<>(KafkaKeys.ALL);
        keys.addAll(List.of(CHECKPOINT_DIR, INITIAL_POLICY, BATCH_SIZE, MICRO_BATCH_SIZE, SEQUENCE_LENGTH,
                LEARNING_RATE, CHECKPOINT_EVERY, DEVICE, POLL_TIMEOUT, METRICS_PORT, REPLAY_DATA, REPLAY_PER_STEP));
        return ConfigSchema.of("trainer", keys);
    }

    public static TrainerConfig from(ConfigValues v) {
        return new TrainerConfig(v.get(KafkaKeys.BOOTSTRAP_SERVERS), Path.of(v.get(CHECKPOINT_DIR)),
                Path.of(v.get(INITIAL_POLICY)), v.get(BATCH_SIZE), v.get(MICRO_BATCH_SIZE), v.get(SEQUENCE_LENGTH),
                v.get(LEARNING_RATE), v.get(CHECKPOINT_EVERY), v.get(DEVICE), v.get(POLL_TIMEOUT),
                v.get(METRICS_PORT), v.get(REPLAY_DATA).isBlank() ? null : Path.of(v.get(REPLAY_DATA)),
                v.get(REPLAY_PER_STEP));
    }
}
