package dev.rlhf.reward;

import dev.rlhf.platform.service.ServiceLauncher;
import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.platform.grpc.BlockingExecutor;
import dev.rlhf.platform.grpc.GrpcServerHost;
import dev.rlhf.platform.grpc.GrpcServerSettings;
import dev.rlhf.platform.kafka.ModelUpdateFollower;
import dev.rlhf.platform.kafka.ServingAnnouncer;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.platform.metrics.MetricsServer;
import dev.rlhf.platform.metrics.RlhfMeters;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.vocabulary.HotSwap;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.reward.domain.RewardUpdater;
import dev.rlhf.reward.grpc.RewardGrpcService;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Wiring of the reward service: config -> reward model -> gRPC server, metrics, and the follower of
 * {@code rlhf.reward-updates} for this instance's kind.
 */
public final class RewardMain implements AutoCloseable {
    /** Scoring is one forward pass over the whole call; a second thread would only compete for the same cores. */
    private static final int MODEL_THREADS = 1;
    private static final long START_TIMEOUT_SECONDS = 60;

    private final RewardConfig config;
    private final Consumer<String> log;
    private final String modelKey;
    private final HotSwap<RewardModel> models = new HotSwap<>();
    // Not final: a failed start closes whatever was already started, so the JVM can exit.
    private NDManager manager;
    private RewardUpdater updater;
    private Vertx vertx;
    private BlockingExecutor worker;
    private GrpcServerHost server;
    private MetricsServer metrics;
    private ModelUpdateFollower follower;
    /** Announces the version served on rlhf.serving (with a broker), so the trainer's retention keeps it. */
    private ServingAnnouncer announcer;
    private int port;
    private int metricsPort;

    private RewardMain(RewardConfig config, Consumer<String> log) {
        this.config = config;
        this.log = log;
        this.modelKey = modelKey(config.kind());
    }

    /** The record key and ModelUpdate.model of this kind's updates: "helpfulness" or "safety". */
    public static String modelKey(RewardKind kind) {
        return kind.name().toLowerCase(Locale.ROOT);
    }

    /** Starts the service; returns once the start-up checkpoint serves and health says SERVING. */
    public static RewardMain start(RewardConfig config, Consumer<String> log) throws Exception {
        RewardMain main = new RewardMain(config, log);
        try {
            main.startAll();
            return main;
        } catch (Exception | Error e) {
            main.close();
            throw e;
        }
    }

    private void startAll() throws Exception {
        manager = NDManager.newBaseManager(Devices.resolve(config.device()));
        PrometheusMeterRegistry registry = RlhfMeters.newRegistry("reward");
        updater = new RewardUpdater(config.kind(), models, manager, log);
        RlhfMeters.modelVersion(registry, "reward-" + modelKey, models::version);
        FunctionCounter.builder("rlhf.model.update.rejected", updater, RewardUpdater::failedLoads)
                .description("model updates refused because the checkpoint was missing, corrupt or unverifiable")
                .tag("model", "reward-" + modelKey)
                .register(registry);
        DistributionSummary responsesPerCall = RlhfMeters.batchSize(registry, "score");

        vertx = Vertx.vertx();
        worker = new BlockingExecutor(vertx, "reward-model", MODEL_THREADS, config.workerQueue(),
                RewardGrpcService.STATUSES);
        server = new GrpcServerHost(vertx, new GrpcServerSettings(config.host(), config.port(),
                config.maxMessageBytes(), config.security()), registry, List.of(new RewardGrpcService(models, worker,
                config.maxResponses(), config.maxTextBytes(), responsesPerCall::record)));
        port = server.start().toCompletionStage().toCompletableFuture().get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        GrpcServerHost serving = server;
        worker.onFatal(t -> {
            // Calls would only fail from here on: NOT_SERVING lets Kubernetes restart the pod.
            log.accept(modelKey + ": the model worker failed and cannot continue, health is NOT_SERVING: " + t);
            serving.setServing(false);
        });
        if (config.followUpdates()) {
            // What this pod serves, on rlhf.serving: the trainer's retention keeps it.
            announcer = new ServingAnnouncer(config.bootstrapServers(), modelKey, ServingAnnouncer.instanceId(), log);
            updater.onSwap((version, dir) -> announcer.serving(version, dir.toAbsolutePath().normalize().toString()));
        }
        // Health stays NOT_SERVING (and Score UNAVAILABLE) until the model is loaded.
        updater.loadInitial(config.initialVersion(), config.checkpoint());
        server.setServing(true);

        metrics = new MetricsServer(vertx, registry, config.host(), config.metricsPort());
        metricsPort = metrics.start().toCompletionStage().toCompletableFuture()
                .get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (config.followUpdates()) {
            follower = new ModelUpdateFollower(config.bootstrapServers(), Topics.REWARD_UPDATES, modelKey,
                    this::onUpdate, log).start();
        }
        log.accept(modelKey + " reward service on " + config.host() + ":" + port + " (metrics :" + metricsPort
                + "), version " + models.version());
    }

    /** Runs on the follower's thread; returns the update's application, or null when it is ignored. */
    private java.util.concurrent.Future<?> onUpdate(ModelUpdate update) {
        if (!update.getModel().isEmpty() && !update.getModel().equals(modelKey)) {
            log.accept("ignoring update " + update.getVersion() + " for model '" + update.getModel()
                    + "' published under key '" + modelKey + "'");
            return null;
        }
        return updater.offer(update.getVersion(), update.getUri(), update.getSha256());
    }

    public int port() {
        return port;
    }

    public int metricsPort() {
        return metricsPort;
    }

    /** Version of the model now serving, or -1 before the first load. */
    public long servingVersion() {
        return models.version();
    }

    public RewardUpdater updater() {
        return updater;
    }

    /** Drains calls in flight (up to the shutdown grace), then releases the model, servers and threads. */
    @Override
    public void close() {
        if (server != null) {
            try {
                server.shutdown(config.shutdownGrace()).toCompletionStage().toCompletableFuture()
                        .get(config.shutdownGrace().toMillis() + 5000, TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                log.accept("reward service shutdown did not drain cleanly: " + e);
            }
        }
        if (follower != null) {
            follower.close();
        }
        if (announcer != null) {
            announcer.close(); // withdraws the announcement
        }
        if (worker != null) {
            worker.close();
        }
        if (updater != null) {
            updater.close();
        }
        if (metrics != null) {
            metrics.stop();
        }
        models.clear();
        if (vertx != null) {
            try {
                vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.accept("closing Vert.x failed: " + e);
            }
        }
        if (manager != null) {
            manager.close();
        }
    }

    /** Reads {@code RLHF_REWARD_*} / {@code RLHF_KAFKA_*} and, when given, the config file in {@code args[0]}. */
    /** Runs as its own process ({@link ServiceLauncher}): configuration from RLHF_REWARD_* and an optional file. */
    public static void main(String[] args) throws Exception {
        ServiceLauncher.main("reward", args, RewardConfig.schema(), RewardConfig::from,
                config -> ServiceLauncher.untilClosed(start(config, System.err::println)));
    }
}
