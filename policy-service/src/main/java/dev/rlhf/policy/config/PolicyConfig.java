package dev.rlhf.policy.config;

import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import dev.rlhf.platform.grpc.GrpcSecurity;
import dev.rlhf.platform.kafka.KafkaKeys;
import dev.rlhf.platform.logging.LogFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Policy-service settings; the only place its config keys are read. */
public record PolicyConfig(String host, int port, Path checkpoint, long initialVersion, int queueCapacity,
                           int maxBatchRows, int maxMessageBytes, String device, int metricsPort,
                           boolean followUpdates, String bootstrapServers, Duration shutdownGrace, Limits limits,
                           GrpcSecurity.Server security, boolean cpuDecode) {

    /** With the batch-1 CPU decoder on ({@link #CPU_DECODE}'s default). */
    public PolicyConfig(String host, int port, Path checkpoint, long initialVersion, int queueCapacity,
                        int maxBatchRows, int maxMessageBytes, String device, int metricsPort,
                        boolean followUpdates, String bootstrapServers, Duration shutdownGrace, Limits limits,
                        GrpcSecurity.Server security) {
        this(host, port, checkpoint, initialVersion, queueCapacity, maxBatchRows, maxMessageBytes, device,
                metricsPort, followUpdates, bootstrapServers, shutdownGrace, limits, security, true);
    }

    /**
     * What one request may ask for, checked before any tokenization or allocation; a request over a limit gets
     * INVALID_ARGUMENT naming the key.
     */
    public record Limits(int maxNewTokens, int maxPromptBytes, int maxStopStrings, int maxStopBytes,
                         int maxScoreItems) {
        public static Limits defaults() {
            return new Limits(MAX_NEW_TOKENS.defaultValue().orElseThrow(),
                    MAX_PROMPT_BYTES.defaultValue().orElseThrow(), MAX_STOP_STRINGS.defaultValue().orElseThrow(),
                    MAX_STOP_BYTES.defaultValue().orElseThrow(), MAX_SCORE_ITEMS.defaultValue().orElseThrow());
        }
    }

    /** Plaintext, no token. */
    public PolicyConfig(String host, int port, Path checkpoint, long initialVersion, int queueCapacity,
                        int maxBatchRows, int maxMessageBytes, String device, int metricsPort,
                        boolean followUpdates, String bootstrapServers, Duration shutdownGrace, Limits limits) {
        this(host, port, checkpoint, initialVersion, queueCapacity, maxBatchRows, maxMessageBytes, device,
                metricsPort, followUpdates, bootstrapServers, shutdownGrace, limits, GrpcSecurity.Server.NONE);
    }

    /** The same settings with TLS, mutual TLS or a bearer token. */
    public PolicyConfig withSecurity(GrpcSecurity.Server s) {
        return new PolicyConfig(host, port, checkpoint, initialVersion, queueCapacity, maxBatchRows,
                maxMessageBytes, device, metricsPort, followUpdates, bootstrapServers, shutdownGrace, limits, s,
                cpuDecode);
    }

    /** The same settings with the batch-1 CPU decoder on or off. */
    public PolicyConfig withCpuDecode(boolean on) {
        return new PolicyConfig(host, port, checkpoint, initialVersion, queueCapacity, maxBatchRows,
                maxMessageBytes, device, metricsPort, followUpdates, bootstrapServers, shutdownGrace, limits, security,
                on);
    }

    public static final GrpcSecurity.ServerKeys SECURITY = GrpcSecurity.ServerKeys.of("policy");

    /** With the default {@link Limits}. */
    public PolicyConfig(String host, int port, Path checkpoint, long initialVersion, int queueCapacity,
                        int maxBatchRows, int maxMessageBytes, String device, int metricsPort,
                        boolean followUpdates, String bootstrapServers, Duration shutdownGrace) {
        this(host, port, checkpoint, initialVersion, queueCapacity, maxBatchRows, maxMessageBytes, device,
                metricsPort, followUpdates, bootstrapServers, shutdownGrace, Limits.defaults());
    }

    public static final ConfigKey<String> HOST = ConfigKey.string("policy.host", "0.0.0.0",
            "Address the gRPC server binds.");
    public static final ConfigKey<Integer> PORT = ConfigKey.integer("policy.port", 50051, 0, 65535,
            "gRPC port (0 = any free port).");
    public static final ConfigKey<String> CHECKPOINT = ConfigKey.string("policy.checkpoint", null,
            "Policy checkpoint directory served at start-up (HF layout with tokenizer.json).");
    public static final ConfigKey<Long> INITIAL_VERSION = ConfigKey.longInteger("policy.initial-version", 0L, 0L,
            Long.MAX_VALUE, "Version number of the start-up checkpoint; updates must be newer.");
    public static final ConfigKey<Integer> QUEUE_CAPACITY = ConfigKey.integer("policy.queue-capacity", 256, 1,
            100_000, "Requests waiting for the model at most; more get RESOURCE_EXHAUSTED.");
    public static final ConfigKey<Integer> MAX_BATCH_ROWS = ConfigKey.integer("policy.max-batch-rows", 32, 1, 4096,
            "Most sample rows (sum of n) decoding at once; requests join the running batch between two steps.");
    public static final ConfigKey<Integer> MAX_MESSAGE_BYTES = ConfigKey.integer("policy.max-message-bytes",
            64 << 20, 1 << 20, 1 << 30, "Largest gRPC message accepted or sent.");
    public static final ConfigKey<String> DEVICE = ConfigKey.oneOf("policy.device", List.of("cpu", "gpu", "auto"),
            "cpu", "Where generation runs.");
    public static final ConfigKey<Boolean> CPU_DECODE = ConfigKey.bool("policy.cpu-decode", true,
            "On a CPU, decode batches of one row (one request, n = 1) with the Vector API decoder, 3-5x faster "
                    + "than the DJL engine at batch 1; it copies the weights into the Java heap (off, with one log "
                    + "line, when they need over half the free heap or the JVM lacks --add-modules "
                    + "jdk.incubator.vector).");
    public static final ConfigKey<Integer> METRICS_PORT = ConfigKey.integer("policy.metrics-port", 9464, 0, 65535,
            "Prometheus /metrics port (0 = any free port).");
    public static final ConfigKey<Boolean> FOLLOW_UPDATES = ConfigKey.bool("policy.follow-updates", true,
            "Hot-swap to new versions announced on rlhf.policy-updates.");
    public static final ConfigKey<Duration> SHUTDOWN_GRACE = ConfigKey.duration("policy.shutdown-grace",
            Duration.ofSeconds(30), "How long shutdown waits for in-flight calls.");

    public static final ConfigKey<Integer> MAX_NEW_TOKENS = ConfigKey.integer("policy.max-new-tokens", 4096, 1,
            1 << 20, "Largest max_new_tokens a request may ask for (the model's context still bounds prompt + it).");
    public static final ConfigKey<Integer> MAX_PROMPT_BYTES = ConfigKey.integer("policy.max-prompt-bytes", 64 << 10,
            1, 1 << 30, "Largest prompt (and ScoreSequences response), in UTF-8 bytes, checked before tokenizing.");
    public static final ConfigKey<Integer> MAX_STOP_STRINGS = ConfigKey.integer("policy.max-stop-strings", 16, 0,
            1024, "Most stop strings per request.");
    public static final ConfigKey<Integer> MAX_STOP_BYTES = ConfigKey.integer("policy.max-stop-bytes", 1024, 0,
            1 << 20, "Largest total UTF-8 size of a request's stop strings.");
    public static final ConfigKey<Integer> MAX_SCORE_ITEMS = ConfigKey.integer("policy.max-score-items", 256, 1,
            1 << 20, "Most (prompt, response) items per ScoreSequences call.");

    public static ConfigSchema schema() {
        List<ConfigKey<?>> keys = new ArrayList<>(KafkaKeys.ALL);
        keys.add(LogFormat.KEY);
        keys.addAll(List.of(HOST, PORT, CHECKPOINT, INITIAL_VERSION, QUEUE_CAPACITY, MAX_BATCH_ROWS,
                MAX_MESSAGE_BYTES, DEVICE, CPU_DECODE, METRICS_PORT, FOLLOW_UPDATES, SHUTDOWN_GRACE, MAX_NEW_TOKENS,
                MAX_PROMPT_BYTES, MAX_STOP_STRINGS, MAX_STOP_BYTES, MAX_SCORE_ITEMS));
        keys.addAll(SECURITY.all());
        return ConfigSchema.of("policy", keys);
    }

    public static PolicyConfig from(ConfigValues v) {
        return new PolicyConfig(v.get(HOST), v.get(PORT), Path.of(v.get(CHECKPOINT)), v.get(INITIAL_VERSION),
                v.get(QUEUE_CAPACITY), v.get(MAX_BATCH_ROWS), v.get(MAX_MESSAGE_BYTES), v.get(DEVICE),
                v.get(METRICS_PORT), v.get(FOLLOW_UPDATES), v.get(KafkaKeys.BOOTSTRAP_SERVERS), v.get(SHUTDOWN_GRACE),
                new Limits(v.get(MAX_NEW_TOKENS), v.get(MAX_PROMPT_BYTES), v.get(MAX_STOP_STRINGS), v.get(MAX_STOP_BYTES),
                        v.get(MAX_SCORE_ITEMS)), SECURITY.read(v), v.get(CPU_DECODE));
    }
}
