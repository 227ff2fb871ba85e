package dev.rlhf.reward.config;

import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import dev.rlhf.platform.grpc.GrpcSecurity;
import dev.rlhf.platform.kafka.KafkaKeys;
import dev.rlhf.platform.logging.LogFormat;
import dev.rlhf.vocabulary.RewardKind;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Reward-service settings; the only place its config keys are read. */
public record RewardConfig(RewardKind kind, String host, int port, Path checkpoint, long initialVersion,
                           int maxResponses, int workerQueue, int maxMessageBytes, String device, int metricsPort,
                           boolean followUpdates, String bootstrapServers, Duration shutdownGrace,
                           int maxTextBytes, GrpcSecurity.Server security) {

    /** Plaintext, no token. */
    public RewardConfig(RewardKind kind, String host, int port, Path checkpoint, long initialVersion,
                        int maxResponses, int workerQueue, int maxMessageBytes, String device, int metricsPort,
                        boolean followUpdates, String bootstrapServers, Duration shutdownGrace, int maxTextBytes) {
        this(kind, host, port, checkpoint, initialVersion, maxResponses, workerQueue, maxMessageBytes, device,
                metricsPort, followUpdates, bootstrapServers, shutdownGrace, maxTextBytes, GrpcSecurity.Server.NONE);
    }

    /** The same settings with TLS, mutual TLS or a bearer token. */
    public RewardConfig withSecurity(GrpcSecurity.Server s) {
        return new RewardConfig(kind, host, port, checkpoint, initialVersion, maxResponses, workerQueue,
                maxMessageBytes, device, metricsPort, followUpdates, bootstrapServers, shutdownGrace, maxTextBytes, s);
    }

    public static final GrpcSecurity.ServerKeys SECURITY = GrpcSecurity.ServerKeys.of("reward");

    /** With the default {@code reward.max-text-bytes}. */
    public RewardConfig(RewardKind kind, String host, int port, Path checkpoint, long initialVersion,
                        int maxResponses, int workerQueue, int maxMessageBytes, String device, int metricsPort,
                        boolean followUpdates, String bootstrapServers, Duration shutdownGrace) {
        this(kind, host, port, checkpoint, initialVersion, maxResponses, workerQueue, maxMessageBytes, device,
                metricsPort, followUpdates, bootstrapServers, shutdownGrace, MAX_TEXT_BYTES.defaultValue().orElseThrow());
    }

    public static final ConfigKey<String> KIND = ConfigKey.oneOf("reward.kind", List.of("helpfulness", "safety"),
            null, "Which reward model this instance serves (LLaMA 2 §3.2.2).");
    public static final ConfigKey<String> HOST = ConfigKey.string("reward.host", "0.0.0.0",
            "Address the gRPC server binds.");
    public static final ConfigKey<Integer> PORT = ConfigKey.integer("reward.port", 50061, 0, 65535,
            "gRPC port (0 = any free port).");
    public static final ConfigKey<String> CHECKPOINT = ConfigKey.string("reward.checkpoint", null,
            "Reward checkpoint directory (with score.weight and tokenizer.json) served at start-up.");
    public static final ConfigKey<Long> INITIAL_VERSION = ConfigKey.longInteger("reward.initial-version", 0L, 0L,
            Long.MAX_VALUE, "Version number of the start-up checkpoint; updates must be newer.");
    public static final ConfigKey<Integer> MAX_RESPONSES = ConfigKey.integer("reward.max-responses", 64, 1, 4096,
            "Most responses one Score call may carry.");
    public static final ConfigKey<Integer> WORKER_QUEUE = ConfigKey.integer("reward.queue-capacity", 256, 1, 100_000,
            "Score calls waiting for the model at most; more get RESOURCE_EXHAUSTED.");
    public static final ConfigKey<Integer> MAX_MESSAGE_BYTES = ConfigKey.integer("reward.max-message-bytes",
            64 << 20, 1 << 20, 1 << 30, "Largest gRPC message accepted or sent.");
    public static final ConfigKey<String> DEVICE = ConfigKey.oneOf("reward.device", List.of("cpu", "gpu", "auto"),
            "cpu", "Where scoring runs.");
    public static final ConfigKey<Integer> METRICS_PORT = ConfigKey.integer("reward.metrics-port", 9465, 0, 65535,
            "Prometheus /metrics port (0 = any free port).");
    public static final ConfigKey<Boolean> FOLLOW_UPDATES = ConfigKey.bool("reward.follow-updates", true,
            "Hot-swap to new versions announced on rlhf.reward-updates for this kind.");
    public static final ConfigKey<Duration> SHUTDOWN_GRACE = ConfigKey.duration("reward.shutdown-grace",
            Duration.ofSeconds(30), "How long shutdown waits for in-flight calls.");

    public static final ConfigKey<Integer> MAX_TEXT_BYTES = ConfigKey.integer("reward.max-text-bytes", 64 << 10, 1,
            1 << 30, "Largest prompt and largest response of a Score call, in UTF-8 bytes, checked before tokenizing.");

    public static ConfigSchema schema() {
        List<ConfigKey<?>> keys = new ArrayList<>(KafkaKeys.ALL);
        keys.add(LogFormat.KEY);
        keys.addAll(List.of(KIND, HOST, PORT, CHECKPOINT, INITIAL_VERSION, MAX_RESPONSES, WORKER_QUEUE,
                MAX_MESSAGE_BYTES, DEVICE, METRICS_PORT, FOLLOW_UPDATES, SHUTDOWN_GRACE, MAX_TEXT_BYTES));
        keys.addAll(SECURITY.all());
        return ConfigSchema.of("reward", keys);
    }

    public static RewardConfig from(ConfigValues v) {
        return new RewardConfig(RewardKind.parse(v.get(KIND)), v.get(HOST), v.get(PORT), Path.of(v.get(CHECKPOINT)),
                v.get(INITIAL_VERSION), v.get(MAX_RESPONSES), v.get(WORKER_QUEUE), v.get(MAX_MESSAGE_BYTES),
                v.get(DEVICE), v.get(METRICS_PORT), v.get(FOLLOW_UPDATES), v.get(KafkaKeys.BOOTSTRAP_SERVERS),
                v.get(SHUTDOWN_GRACE), v.get(MAX_TEXT_BYTES), SECURITY.read(v));
    }
}
