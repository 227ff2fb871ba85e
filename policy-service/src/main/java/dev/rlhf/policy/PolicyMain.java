package dev.rlhf.policy;

import dev.rlhf.platform.service.ServiceLauncher;
import dev.rlhf.vocabulary.HotSwap;
import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.platform.grpc.GrpcServerHost;
import dev.rlhf.platform.grpc.GrpcServerSettings;
import dev.rlhf.platform.kafka.ModelUpdateFollower;
import dev.rlhf.platform.kafka.ServingAnnouncer;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.platform.metrics.MetricsServer;
import dev.rlhf.platform.metrics.RlhfMeters;
import dev.rlhf.policy.config.PolicyConfig;

import dev.rlhf.policy.domain.PolicyEngine;
import dev.rlhf.policy.domain.PolicyUpdater;
import dev.rlhf.policy.domain.PolicyVersion;
import dev.rlhf.policy.grpc.PolicyGrpcService;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** Wiring of the policy service: config -> model -> engine -> gRPC server, metrics, and update follower. */
public final class PolicyMain implements AutoCloseable {
    public static final String MODEL_KEY = "policy";

    private final PolicyConfig config;
    private final NDManager manager;
    private final HotSwap<PolicyVersion> policies = new HotSwap<>();
    private final PolicyUpdater updater;
    private final PolicyEngine engine;
    private final Vertx vertx;
    private final GrpcServerHost server;
    private final MetricsServer metrics;
    private final ModelUpdateFollower follower;
    private final int port;
    private final int metricsPort;
    /** Announces the version served on rlhf.serving (with a broker), so the trainer's retention keeps it. */
    private final ServingAnnouncer announcer;

    private PolicyMain(PolicyConfig config, Consumer<String> log) throws Exception {
        this.config = config;
        this.manager = NDManager.newBaseManager(Devices.resolve(config.device()));
        PrometheusMeterRegistry registry = RlhfMeters.newRegistry("policy");
        this.updater = new PolicyUpdater(policies, manager, log, config.cpuDecode());
        var batchRows = RlhfMeters.batchSize(registry, "generate");
        this.engine = new PolicyEngine(policies, new PolicyEngine.Options(config.queueCapacity(),
                config.maxBatchRows()), batchRows::record);
        RlhfMeters.modelVersion(registry, MODEL_KEY, policies::version);
        this.vertx = Vertx.vertx();
        GrpcServerHost host = null;
        MetricsServer metricsServer = null;
        ServingAnnouncer serving = null;
        try {
            this.server = host = new GrpcServerHost(vertx, new GrpcServerSettings(config.host(), config.port(),
                    config.maxMessageBytes(), config.security()), registry,
                    List.of(new PolicyGrpcService(engine, RlhfMeters.tokens(registry, "generated"), config.limits())));
            this.port = server.start().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
            GrpcServerHost grpc = host;
            engine.onFatal(t -> {
                // Calls would only hang or fail from here on: NOT_SERVING lets Kubernetes restart the pod.
                log.accept("policy: the model worker failed and cannot continue, health is NOT_SERVING: " + t);
                grpc.setServing(false);
            });
            // Health stays NOT_SERVING until a model is loaded.
            updater.loadInitial(config.initialVersion(), config.checkpoint());
            server.setServing(true);
            this.metrics = metricsServer = new MetricsServer(vertx, registry, config.host(), config.metricsPort());
            this.metricsPort = metrics.start().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
            this.announcer = serving = config.followUpdates() ? new ServingAnnouncer(config.bootstrapServers(),
                    MODEL_KEY, ServingAnnouncer.instanceId(), log) : null;
            if (announcer != null) {
                updater.addSwapListener(v -> announceServing());
                announceServing();
            }
            this.follower = config.followUpdates() ? new ModelUpdateFollower(config.bootstrapServers(),
                    Topics.POLICY_UPDATES, MODEL_KEY,
                    u -> updater.offer(u.getVersion(), u.getUri(), u.getSha256()), log).start() : null;
        } catch (Exception | Error e) {
            // A failed start must not leave threads behind that keep the JVM alive.
            if (host != null) {
                host.shutdown(java.time.Duration.ZERO);
            }
            if (metricsServer != null) {
                metricsServer.stop();
            }
            if (serving != null) {
                serving.close();
            }
            engine.close();
            updater.close();
            policies.clear();
            vertx.close();
            manager.close();
            throw e;
        }
        log.accept("policy service on " + config.host() + ":" + port + " (metrics :" + metricsPort + "), version "
                + policies.version());
    }

    /** Announces the version serving now and the directory it came from. */
    private void announceServing() {
        try (HotSwap.Lease<PolicyVersion> lease = policies.acquire()) {
            if (lease != null) {
                announcer.serving(lease.version(), lease.value().dir().toAbsolutePath().normalize().toString());
            }
        }
    }

    /** Starts the service; returns once the start-up checkpoint serves and health says SERVING. */
    public static PolicyMain start(PolicyConfig config, Consumer<String> log) throws Exception {
        return new PolicyMain(config, log);
    }

    public int port() {
        return port;
    }

    public int metricsPort() {
        return metricsPort;
    }

    public long servingVersion() {
        return policies.version();
    }

    public PolicyEngine engine() {
        return engine;
    }

    public PolicyUpdater updater() {
        return updater;
    }

    @Override
    public void close() {
        try {
            server.shutdown(config.shutdownGrace()).toCompletionStage().toCompletableFuture()
                    .get(config.shutdownGrace().toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // still release everything below
        }
        if (follower != null) {
            follower.close();
        }
        if (announcer != null) {
            announcer.close(); // withdraws the announcement
        }
        engine.close();
        updater.close();
        metrics.stop();
        policies.clear();
        vertx.close();
        manager.close();
    }

    /** Runs as its own process ({@link ServiceLauncher}): configuration from RLHF_POLICY_* and an optional file. */
    public static void main(String[] args) throws Exception {
        ServiceLauncher.main("policy", args, PolicyConfig.schema(), PolicyConfig::from,
                config -> ServiceLauncher.untilClosed(start(config, System.err::println)));
    }
}
