package dev.rlhf.sampler.config;

import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import dev.rlhf.platform.grpc.GrpcSecurity;
import dev.rlhf.platform.grpc.ServiceEndpoint;
import dev.rlhf.platform.kafka.KafkaKeys;
import dev.rlhf.platform.logging.LogFormat;
import dev.rlhf.vocabulary.RewardCombiner;
import dev.rlhf.vocabulary.SamplingParams;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Sampler-service settings; the only place its config keys are read. */
public record SamplerConfig(String policyAddress, String helpfulnessAddress, String safetyAddress,
                            SamplingParams sampling, double safetyThreshold, int maxInFlight, int maxBatch,
                            Duration callTimeout, int maxAttempts, Duration initialBackoff, Duration maxBackoff,
                            int breakerThreshold, Duration breakerCoolDown, String groupId, String transactionalId,
                            Duration sessionTimeout, String bootstrapServers, int topicPartitions,
                            short replicationFactor, String metricsHost, int metricsPort, int maxMessageBytes,
                            Duration promptRetryBudget, GrpcSecurity.Client security) {

    public static final GrpcSecurity.ClientKeys SECURITY = GrpcSecurity.ClientKeys.of("sampler");

    /** Plaintext, no token. */
    public SamplerConfig(String policyAddress, String helpfulnessAddress, String safetyAddress,
                         SamplingParams sampling, double safetyThreshold, int maxInFlight, int maxBatch,
                         Duration callTimeout, int maxAttempts, Duration initialBackoff, Duration maxBackoff,
                         int breakerThreshold, Duration breakerCoolDown, String groupId, String transactionalId,
                         Duration sessionTimeout, String bootstrapServers, int topicPartitions,
                         short replicationFactor, String metricsHost, int metricsPort, int maxMessageBytes,
                         Duration promptRetryBudget) {
        this(policyAddress, helpfulnessAddress, safetyAddress, sampling, safetyThreshold, maxInFlight, maxBatch,
                callTimeout, maxAttempts, initialBackoff, maxBackoff, breakerThreshold, breakerCoolDown, groupId,
                transactionalId, sessionTimeout, bootstrapServers, topicPartitions, replicationFactor, metricsHost,
                metricsPort, maxMessageBytes, promptRetryBudget, GrpcSecurity.Client.NONE);
    }

    /** The same settings calling the services with TLS, a client certificate or a bearer token. */
    public SamplerConfig withSecurity(GrpcSecurity.Client s) {
        return new SamplerConfig(policyAddress, helpfulnessAddress, safetyAddress, sampling, safetyThreshold,
                maxInFlight, maxBatch, callTimeout, maxAttempts, initialBackoff, maxBackoff, breakerThreshold,
                breakerCoolDown, groupId, transactionalId, sessionTimeout, bootstrapServers, topicPartitions,
                replicationFactor, metricsHost, metricsPort, maxMessageBytes, promptRetryBudget, s);
    }

    private static final String ENDPOINT = "HOST:PORT such as 127.0.0.1:50051";

    public static final ConfigKey<String> POLICY = endpoint("sampler.policy", "127.0.0.1:50051",
            "Policy service address, host:port.");
    public static final ConfigKey<String> REWARD_HELPFULNESS = endpoint("sampler.reward-helpfulness",
            "127.0.0.1:50061", "Helpfulness reward service address, host:port.");
    public static final ConfigKey<String> REWARD_SAFETY = endpoint("sampler.reward-safety",
            "127.0.0.1:50062", "Safety reward service address, host:port.");
    public static final ConfigKey<Integer> N = ConfigKey.integer("sampler.n", 4, 1, 64,
            "Samples per prompt (best-of-N). The paper gives no K; it plots N from 1 to 100.");
    public static final ConfigKey<Double> TEMPERATURE = ConfigKey.decimal("sampler.temperature", 1.0, 0.0, 10.0,
            "Sampling temperature (LLaMA 2 §3.2.3: 1.2-1.3 was best for 10-100 samples of the RLHF model).");
    public static final ConfigKey<Double> TOP_P = ConfigKey.decimal("sampler.top-p", 1.0, 1e-6, 1.0,
            "Nucleus mass.");
    public static final ConfigKey<Integer> MAX_NEW_TOKENS = ConfigKey.integer("sampler.max-new-tokens", 64, 1, 4096,
            "New tokens per sample at most.");
    public static final ConfigKey<Long> SEED = ConfigKey.longInteger("sampler.seed", 0L, Long.MIN_VALUE,
            Long.MAX_VALUE, "Base sampling seed, mixed with each prompt id's hash: a re-processed prompt samples the "
                    + "same candidates; change it to draw new ones for the same prompts.");
    public static final ConfigKey<Double> SAFETY_THRESHOLD = ConfigKey.decimal("sampler.safety-threshold",
            RewardCombiner.SAFETY_THRESHOLD, 0.0, 1.0,
            "Use the safety reward when its sigmoid is below this (LLaMA 2 §3.2.3: 0.15).");
    public static final ConfigKey<Integer> MAX_IN_FLIGHT = ConfigKey.integer("sampler.max-in-flight", 8, 1, 4096,
            "Prompts being processed at once; polling pauses beyond it.");
    public static final ConfigKey<Integer> MAX_BATCH = ConfigKey.integer("sampler.max-batch", 64, 1, 10_000,
            "Prompts per Kafka transaction at most (max.poll.records): outputs become visible at commit, and a "
                    + "transient failure re-processes the whole batch.");
    public static final ConfigKey<Duration> CALL_TIMEOUT = ConfigKey.duration("sampler.call-timeout",
            Duration.ofSeconds(120), Duration.ofMillis(1), null, "Deadline of each policy/reward call attempt.");
    public static final ConfigKey<Integer> MAX_ATTEMPTS = ConfigKey.integer("sampler.max-attempts", 5, 1, 100,
            "Attempts per call when a service is unavailable; after the last the prompt's transaction is aborted "
                    + "and the prompt processed again later.");
    public static final ConfigKey<Duration> INITIAL_BACKOFF = ConfigKey.duration("sampler.initial-backoff",
            Duration.ofMillis(200), "First retry delay; doubles per attempt.");
    public static final ConfigKey<Duration> MAX_BACKOFF = ConfigKey.duration("sampler.max-backoff",
            Duration.ofSeconds(5), "Cap on the retry delay.");
    public static final ConfigKey<Integer> BREAKER_THRESHOLD = ConfigKey.integer("sampler.breaker-threshold", 10, 1,
            10_000, "Consecutive failures that open a service's circuit breaker.");
    public static final ConfigKey<Duration> BREAKER_COOL_DOWN = ConfigKey.duration("sampler.breaker-cool-down",
            Duration.ofSeconds(5), "How long an open breaker fails calls fast.");
    public static final ConfigKey<String> GROUP_ID = ConfigKey.string("sampler.group-id", "rlhf-sampler",
            "Kafka consumer group of the sampler replicas.");
    public static final ConfigKey<String> TRANSACTIONAL_ID = ConfigKey.string("sampler.transactional-id",
            "rlhf-sampler-0", "Kafka transactional.id; unique and stable per replica (e.g. the pod name).");
    public static final ConfigKey<Duration> SESSION_TIMEOUT = ConfigKey.duration("sampler.session-timeout",
            Duration.ofSeconds(45), Duration.ofSeconds(6), Duration.ofMinutes(30),
            "Kafka session.timeout.ms: how soon the group gives a crashed replica's partitions to the others (and "
                    + "a restarted one gets them back); within the broker's group.min/max.session.timeout.ms.");
    public static final ConfigKey<String> METRICS_HOST = ConfigKey.string("sampler.metrics-host", "0.0.0.0",
            "Address the Prometheus /metrics server binds.");
    public static final ConfigKey<Integer> METRICS_PORT = ConfigKey.integer("sampler.metrics-port", 9466, 0, 65535,
            "Prometheus /metrics port (0 = any free port).");
    public static final ConfigKey<Integer> MAX_MESSAGE_BYTES = ConfigKey.integer("sampler.max-message-bytes",
            64 << 20, 1 << 20, 1 << 30, "Largest gRPC message accepted from the services.");

    public static final ConfigKey<Duration> PROMPT_RETRY_BUDGET = ConfigKey.duration("sampler.prompt-retry-budget",
            Duration.ofMinutes(10), Duration.ofSeconds(1), null, "How long a prompt may keep failing with a service "
                    + "unavailable (each failure aborts its transaction and it is processed again) before it goes to "
                    + "rlhf.dead-letter instead: a failure that only looks transient cannot loop forever "
                    + "(rlhf dead-letter replay sends it again).");

    /** With the default {@code sampler.prompt-retry-budget}. */
    public SamplerConfig(String policyAddress, String helpfulnessAddress, String safetyAddress,
                         SamplingParams sampling, double safetyThreshold, int maxInFlight, int maxBatch,
                         Duration callTimeout, int maxAttempts, Duration initialBackoff, Duration maxBackoff,
                         int breakerThreshold, Duration breakerCoolDown, String groupId, String transactionalId,
                         Duration sessionTimeout, String bootstrapServers, int topicPartitions,
                         short replicationFactor, String metricsHost, int metricsPort, int maxMessageBytes) {
        this(policyAddress, helpfulnessAddress, safetyAddress, sampling, safetyThreshold, maxInFlight, maxBatch,
                callTimeout, maxAttempts, initialBackoff, maxBackoff, breakerThreshold, breakerCoolDown, groupId,
                transactionalId, sessionTimeout, bootstrapServers, topicPartitions, replicationFactor, metricsHost,
                metricsPort, maxMessageBytes, PROMPT_RETRY_BUDGET.defaultValue().orElseThrow());
    }

    public SamplerConfig {
        if (maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("max backoff " + maxBackoff + " is below the initial backoff "
                    + initialBackoff);
        }
    }

    /**
     * Settings for embedded wiring (one partition per topic, replication 1), with the remaining keys at their
     * defaults: batch size, retry backoff cap, session timeout and metrics bind address.
     */
    public SamplerConfig(String policyAddress, String helpfulnessAddress, String safetyAddress,
                         SamplingParams sampling, double safetyThreshold, int maxInFlight, Duration callTimeout,
                         int maxAttempts, Duration initialBackoff, int breakerThreshold, Duration breakerCoolDown,
                         String groupId, String transactionalId, String bootstrapServers, int metricsPort,
                         int maxMessageBytes) {
        this(policyAddress, helpfulnessAddress, safetyAddress, sampling, safetyThreshold, maxInFlight,
                MAX_BATCH.defaultValue().orElseThrow(), callTimeout, maxAttempts, initialBackoff,
                max(initialBackoff, MAX_BACKOFF.defaultValue().orElseThrow()), breakerThreshold, breakerCoolDown,
                groupId, transactionalId, SESSION_TIMEOUT.defaultValue().orElseThrow(), bootstrapServers, 1, (short) 1,
                METRICS_HOST.defaultValue().orElseThrow(), metricsPort, maxMessageBytes);
    }

    /** The same settings with the metrics server bound to {@code host} (`rlhf up`: loopback). */
    public SamplerConfig withMetricsHost(String host) {
        return new SamplerConfig(policyAddress, helpfulnessAddress, safetyAddress, sampling, safetyThreshold,
                maxInFlight, maxBatch, callTimeout, maxAttempts, initialBackoff, maxBackoff, breakerThreshold,
                breakerCoolDown, groupId, transactionalId, sessionTimeout, bootstrapServers, topicPartitions,
                replicationFactor, host, metricsPort, maxMessageBytes, promptRetryBudget, security);
    }

    public static ConfigSchema schema() {
        List<ConfigKey<?>> keys = new ArrayList<>(KafkaKeys.ALL);
        keys.add(LogFormat.KEY);
        keys.addAll(List.of(POLICY, REWARD_HELPFULNESS, REWARD_SAFETY, N, TEMPERATURE, TOP_P, MAX_NEW_TOKENS, SEED,
                SAFETY_THRESHOLD, MAX_IN_FLIGHT, MAX_BATCH, CALL_TIMEOUT, MAX_ATTEMPTS, INITIAL_BACKOFF, MAX_BACKOFF,
                BREAKER_THRESHOLD, BREAKER_COOL_DOWN, GROUP_ID, TRANSACTIONAL_ID, SESSION_TIMEOUT, METRICS_HOST,
                METRICS_PORT, MAX_MESSAGE_BYTES, PROMPT_RETRY_BUDGET));
        keys.addAll(SECURITY.all());
        return ConfigSchema.of("sampler", keys);
    }

    public static SamplerConfig from(ConfigValues v) {
        Duration initialBackoff = v.get(INITIAL_BACKOFF);
        Duration maxBackoff = v.get(MAX_BACKOFF);
        if (maxBackoff.compareTo(initialBackoff) < 0) {
            throw new ConfigException(List.of(MAX_BACKOFF.name()), List.of(MAX_BACKOFF.name() + ": "
                    + v.get(MAX_BACKOFF) + " is below " + INITIAL_BACKOFF.name() + " " + initialBackoff));
        }
        return new SamplerConfig(v.get(POLICY), v.get(REWARD_HELPFULNESS), v.get(REWARD_SAFETY),
                new SamplingParams(v.get(N), v.get(MAX_NEW_TOKENS), v.get(TEMPERATURE), v.get(TOP_P), 0, v.get(SEED), java.util.List.of()),
                v.get(SAFETY_THRESHOLD), v.get(MAX_IN_FLIGHT), v.get(MAX_BATCH), v.get(CALL_TIMEOUT),
                v.get(MAX_ATTEMPTS), initialBackoff, maxBackoff, v.get(BREAKER_THRESHOLD), v.get(BREAKER_COOL_DOWN),
                v.get(GROUP_ID), v.get(TRANSACTIONAL_ID), v.get(SESSION_TIMEOUT), v.get(KafkaKeys.BOOTSTRAP_SERVERS),
                v.get(KafkaKeys.TOPIC_PARTITIONS), v.get(KafkaKeys.REPLICATION_FACTOR).shortValue(),
                v.get(METRICS_HOST), v.get(METRICS_PORT), v.get(MAX_MESSAGE_BYTES), v.get(PROMPT_RETRY_BUDGET),
                SECURITY.read(v));
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    private static ConfigKey<String> endpoint(String name, String defaultValue, String description) {
        return ConfigKey.string(name, defaultValue, description).withCheck(SamplerConfig::isEndpoint, ENDPOINT);
    }

    private static boolean isEndpoint(String text) {
        try {
            ServiceEndpoint.parse(text);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
