package dev.rlhf.sampler;

import dev.rlhf.platform.service.ServiceLauncher;
import dev.rlhf.platform.grpc.CallOptions;
import dev.rlhf.platform.grpc.GrpcCaller;
import dev.rlhf.platform.grpc.GrpcClients;
import dev.rlhf.platform.grpc.ServiceEndpoint;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.platform.kafka.TransactionalLoop;
import dev.rlhf.platform.metrics.MetricsServer;
import dev.rlhf.platform.metrics.RlhfMeters;
import dev.rlhf.platform.tracing.Tracing;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.proto.v1.RewardKind;
import dev.rlhf.sampler.config.SamplerConfig;
import dev.rlhf.sampler.domain.BestOfNRound;
import dev.rlhf.sampler.domain.Resilience;
import dev.rlhf.vocabulary.RewardCombiner;
import dev.rlhf.sampler.grpc.GrpcPolicyPort;
import dev.rlhf.sampler.grpc.GrpcRewardPort;
import dev.rlhf.sampler.grpc.ServiceErrors;
import dev.rlhf.sampler.kafka.ConsumerLagProbe;
import dev.rlhf.sampler.kafka.SamplerProcessor;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;

/** Wiring of the sampler: config -> gRPC ports -> best-of-N round -> transactional Kafka loop, and metrics. */
public final class SamplerMain implements AutoCloseable {
    /** Counter of prompts by outcome: {@code processed}, {@code dead-lettered}. */
    public static final String PROMPTS_METER = "rlhf.sampler.prompts";
    /** Counter of Kafka transactions by outcome: {@code committed}, {@code aborted} (their prompts are redone). */
    public static final String TRANSACTIONS_METER = "rlhf.sampler.transactions";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration LAG_REFRESH = Duration.ofSeconds(10);

    private final Vertx vertx;
    /** The bearer token sent to the policy and reward services, or null. */
    private final String token;
    private final GrpcClient policyClient;
    private final GrpcClient rewardClient;
    private final TransactionalLoop<Prompt> loop;
    private final ConsumerLagProbe lag;
    private final MetricsServer metrics;
    private final int metricsPort;
    private boolean closed;

    private SamplerMain(SamplerConfig config, Consumer<String> log) throws Exception {
        this.token = config.security().token(); // read once: a missing file fails the start, not every call
        this.vertx = Vertx.vertx();
        this.policyClient = GrpcClients.create(vertx, config.maxMessageBytes(), config.security());
        this.rewardClient = GrpcClients.create(vertx, config.maxMessageBytes(), config.security());
        try {
            // Both calls may run twice (seeded generation, pure scoring): one attempt per GrpcCaller call, and the
            // retries with backoff in Resilience, where they count towards the service's circuit breaker.
            CallOptions attempt = CallOptions.idempotent(config.callTimeout(), 1);
            GrpcPolicyPort policy = new GrpcPolicyPort(caller(policyClient, config.policyAddress()), attempt,
                    resilience(config, "policy"));
            GrpcRewardPort helpfulness = new GrpcRewardPort(RewardKind.REWARD_KIND_HELPFULNESS,
                    caller(rewardClient, config.helpfulnessAddress()), attempt, resilience(config, "helpfulness"));
            GrpcRewardPort safety = new GrpcRewardPort(RewardKind.REWARD_KIND_SAFETY,
                    caller(rewardClient, config.safetyAddress()), attempt, resilience(config, "safety"));
            BestOfNRound round = new BestOfNRound(policy, helpfulness, safety,
                    new RewardCombiner(config.safetyThreshold()));

            try (Admin admin = KafkaClients.admin(config.bootstrapServers(), config.transactionalId() + "-admin")) {
                new TopicAdmin(config.topicPartitions(), config.replicationFactor()).ensureTopics(admin);
            }
            this.loop = TransactionalLoop.builder(Prompt.parser())
                    .bootstrapServers(config.bootstrapServers())
                    .groupId(config.groupId())
                    .transactionalId(config.transactionalId())
                    .inputTopics(Topics.PROMPTS)
                    .processor(new SamplerProcessor(round, config.sampling(), log, config.promptRetryBudget(),
                            System::nanoTime))
                    .maxInFlight(config.maxInFlight())
                    // Outputs appear at commit and a transient failure redoes the batch: keep batches bounded.
                    .consumerProperty(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, config.maxBatch())
                    // Bounds how long a crashed replica's partitions wait before the group hands them on.
                    .consumerProperty(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG,
                            (int) config.sessionTimeout().toMillis())
                    .build();

            PrometheusMeterRegistry registry = RlhfMeters.newRegistry("sampler");
            counter(registry, PROMPTS_METER, "processed", l -> l.processed());
            counter(registry, PROMPTS_METER, "dead-lettered", l -> l.deadLettered());
            counter(registry, TRANSACTIONS_METER, "committed", l -> l.committedTransactions());
            counter(registry, TRANSACTIONS_METER, "aborted", l -> l.aborted());
            this.lag = new ConsumerLagProbe(KafkaClients.admin(config.bootstrapServers(),
                    config.transactionalId() + "-lag"), config.groupId(), Topics.PROMPTS, LAG_REFRESH, log);
            RlhfMeters.kafkaConsumerLag(registry, config.groupId(), Topics.PROMPTS, lag::lag);
            this.metrics = new MetricsServer(vertx, registry, config.metricsHost(), config.metricsPort());
            this.metricsPort = await(metrics.start().toCompletionStage().toCompletableFuture());

            loop.start();
            await(loop.started());
        } catch (Exception | Error e) {
            close();
            throw e;
        }
        log.accept("sampler consuming " + Topics.PROMPTS + " as " + config.transactionalId() + " (group "
                + config.groupId() + "): policy " + config.policyAddress() + ", helpfulness "
                + config.helpfulnessAddress() + ", safety " + config.safetyAddress() + ", best of "
                + config.sampling().n() + "; metrics :" + metricsPort);
    }

    /** Starts the loop; returns once it has joined the consumer group's subscription and can commit. */
    public static SamplerMain start(SamplerConfig config, Consumer<String> log) throws Exception {
        return new SamplerMain(config, log);
    }

    public int metricsPort() {
        return metricsPort;
    }

    /** Prompts whose Rollout and BestSample were committed. */
    public long processed() {
        return loop.processed();
    }

    public long deadLettered() {
        return loop.deadLettered();
    }

    /** Transactions aborted; their prompts were (or will be) processed again. */
    public long aborted() {
        return loop.aborted();
    }

    /** Completes when the loop stops: normally after {@link #close()}, exceptionally on a fatal Kafka error. */
    public CompletableFuture<Void> terminated() {
        return loop.terminated();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // The loop first: it aborts its open transaction, so nothing half-done is committed while calls fail below.
        if (loop != null) {
            loop.close();
        }
        if (lag != null) {
            lag.close();
        }
        if (metrics != null) {
            metrics.stop();
        }
        policyClient.close();
        rewardClient.close();
        vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
                .exceptionally(e -> null).join();
    }

    private GrpcCaller caller(GrpcClient client, String address) {
        return new GrpcCaller(vertx, client, ServiceEndpoint.parse(address), token);
    }

    private static Resilience resilience(SamplerConfig config, String service) {
        return new Resilience(config.maxAttempts(), config.initialBackoff().toMillis(),
                config.maxBackoff().toMillis(), ServiceErrors::isTransient,
                new Resilience.CircuitBreaker(service, config.breakerThreshold(), config.breakerCoolDown().toMillis()),
                Tracing::carried);
    }

    private void counter(MeterRegistry registry, String name, String outcome,
                         ToDoubleFunction<TransactionalLoop<Prompt>> value) {
        FunctionCounter.builder(name, loop, value).tag("outcome", outcome).register(registry);
    }

    private static <T> T await(CompletableFuture<T> future) throws Exception {
        try {
            return future.get(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        }
    }

    /**
     * Runs as its own process: configuration from {@code RLHF_SAMPLER_*} / {@code RLHF_KAFKA_*} and an optional
     * {@code .properties} or {@code .json} file argument; exits 2 on bad configuration, 1 when the loop fails.
     */
    /**
     * Runs as its own process ({@link ServiceLauncher}): configuration from RLHF_SAMPLER_* and an optional file; exits
     * 1 when the loop stops on a fatal error (another replica took its transactional id, ...).
     */
    public static void main(String[] args) throws Exception {
        ServiceLauncher.main("sampler", args, SamplerConfig.schema(), SamplerConfig::from, config -> {
            SamplerMain main = start(config, System.err::println);
            return new ServiceLauncher.Running() {
                @Override
                public int awaitExit() {
                    try {
                        main.terminated().join();
                        return 0;
                    } catch (RuntimeException e) {
                        System.err.println("sampler: stopped by a fatal error: " + e.getCause());
                        return 1;
                    }
                }

                @Override
                public void close() {
                    main.close();
                }
            };
        });
    }
}
