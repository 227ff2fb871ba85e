package dev.rlhf.trainer;

import java.util.Set;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.trainer.domain.CheckpointRetention;
import dev.rlhf.platform.service.ServiceLauncher;
import dev.rlhf.vocabulary.RewardKind;
import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.data.JsonlExamples;
import dev.rlhf.llama.rl.PpoRewards;
import dev.rlhf.llama.rl.PpoTrainer;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.platform.kafka.ServingAnnouncer;
import dev.rlhf.platform.kafka.ServingTracker;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.platform.metrics.MetricsServer;
import dev.rlhf.platform.metrics.RlhfMeters;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.trainer.domain.OnlinePpo;
import dev.rlhf.trainer.domain.OnlineRewardTraining;
import dev.rlhf.trainer.domain.RejectionSamplingSft;
import dev.rlhf.trainer.kafka.BestSampleHandler;
import dev.rlhf.trainer.kafka.LedgeredTopicLoop;
import dev.rlhf.trainer.kafka.PreferenceHandler;
import dev.rlhf.trainer.kafka.RolloutHandler;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.LongSupplier;
import org.apache.kafka.clients.admin.Admin;

/**
 * Wiring of the trainer service: config -> domain -> Kafka loops. The policy learns by rejection-sampling fine-tuning
 * on rlhf.best or by PPO on rlhf.rollouts ({@code trainer.algorithm}); when reward checkpoints are configured, the
 * reward models also learn online from rlhf.preferences, on a second loop. Each loop publishes its checkpoints.
 */
public final class TrainerMain implements AutoCloseable {
    private final NDManager manager;
    private final List<AutoCloseable> domain = new ArrayList<>();
    private final List<LedgeredTopicLoop> loops = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final CountDownLatch stopped;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final LongSupplier policyVersion;
    private final List<OnlineRewardTraining> rewardModels = new ArrayList<>();
    private final LedgeredTopicLoop policyLoop;
    private LedgeredTopicLoop rewardLoop;
    private final Vertx vertx;
    private final MetricsServer metrics;
    private final int metricsPort;

    /**
     * How long a serving pod's last announcement protects its version: three heartbeats, so a pod that died without
     * withdrawing it stops counting after a few minutes, and a live one never does.
     */
    static final java.time.Duration SERVED_MAX_AGE = ServingAnnouncer.HEARTBEAT.multipliedBy(3);

    private TrainerMain(TrainerConfig config, TopicAdmin topics, Consumer<String> log) {
        try (Admin admin = KafkaClients.admin(config.bootstrapServers(), "trainer-admin")) {
            topics.ensureTopics(admin);
        }
        this.manager = NDManager.newBaseManager(Devices.resolve(config.device()));
        var registry = RlhfMeters.newRegistry("trainer");
        try {
            // What the serving pods hold (rlhf.serving): retention keeps it. Only followed when retention is on.
            ServingTracker served = config.keepCheckpoints() > 0
                    ? track(new ServingTracker(config.bootstrapServers(), "trainer-serving", log).start()) : null;
            if (served != null && !awaitCaughtUp(served)) {
                log.accept("trainer: the serving pods' announcements (rlhf.serving) are not read yet; checkpoints "
                        + "are kept until they are");
            }
            CheckpointRetention retention;
            if (TrainerConfig.learnsFromRollouts(config.algorithm())) {
                OnlinePpo ppo = track(new OnlinePpo(config.checkpointDir(), config.initialPolicy(),
                        onlinePpoOptions(config), config.lora(), manager));
                policyVersion = ppo::version;
                policyLoop = new LedgeredTopicLoop("trainer", Topics.ROLLOUTS, Topics.POLICY_UPDATES,
                        new RolloutHandler(ppo), config.bootstrapServers(), config.pollTimeout(), log);
                retention = new CheckpointRetention(config.keepCheckpoints(),
                        withServed(served, () -> Set.of(ppo.referenceDir())));
                gauge(registry, "rlhf.trainer.ppo.iterations", "PPO iterations", ppo::iterations);
                gauge(registry, "rlhf.trainer.ppo.dropped.stale", "Rollouts dropped as too stale", ppo::droppedStale);
                gauge(registry, "rlhf.trainer.buffered.samples", "Responses read but not yet trained",
                        ppo::buffered);
            } else {
                RejectionSamplingSft rs = track(new RejectionSamplingSft(config.checkpointDir(),
                        config.initialPolicy(), new RejectionSamplingSft.Options(config.batchSize(),
                        config.microBatchSize(), config.sequenceLength(), config.learningRate(),
                        config.checkpointEverySteps(),
                        config.replayData() == null ? List.of() : JsonlExamples.read(config.replayData()),
                        config.replayPerStep()), config.lora(), manager));
                policyVersion = rs::version;
                policyLoop = new LedgeredTopicLoop("trainer", Topics.BEST, Topics.POLICY_UPDATES,
                        new BestSampleHandler(rs), config.bootstrapServers(), config.pollTimeout(), log);
                retention = new CheckpointRetention(config.keepCheckpoints(), withServed(served, Set::of));
                gauge(registry, "rlhf.trainer.steps", "SFT steps taken", rs::steps);
                gauge(registry, "rlhf.trainer.buffered.samples", "Best samples read but not yet trained",
                        rs::buffered);
            }
            loops.add(policyLoop);
            policyLoop.onPublished(u -> prune(retention, u, log));
            RlhfMeters.modelVersion(registry, "policy", policyVersion::getAsLong);
            gauge(registry, "rlhf.trainer.consumed.records", "Records read by the policy loop since start",
                    policyLoop::consumed);
            TrainerConfig.Rewards r = config.rewards();
            if (r.enabled()) {
                addRewardModel(RewardKind.HELPFULNESS, r.initialHelpfulness(), config, registry);
                addRewardModel(RewardKind.SAFETY, r.initialSafety(), config, registry);
                rewardLoop = new LedgeredTopicLoop("trainer-rewards", Topics.PREFERENCES, Topics.REWARD_UPDATES,
                        new PreferenceHandler(rewardModels), config.bootstrapServers(), config.pollTimeout(), log);
                loops.add(rewardLoop);
                CheckpointRetention rewardRetention = new CheckpointRetention(config.keepCheckpoints(),
                        withServed(served, Set::of));
                rewardLoop.onPublished(u -> prune(rewardRetention, u, log));
            }
        } catch (RuntimeException e) {
            closeDomain();
            manager.close();
            throw e;
        }
        this.stopped = new CountDownLatch(loops.size());
        this.vertx = Vertx.vertx();
        this.metrics = new MetricsServer(vertx, registry, config.metricsHost(), config.metricsPort());
        try {
            this.metricsPort = metrics.start().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            vertx.close();
            closeDomain();
            manager.close();
            throw new IllegalStateException("cannot start the metrics server on port " + config.metricsPort(), e);
        }
        for (LedgeredTopicLoop loop : loops) {
            threads.add(new Thread(() -> {
                try {
                    loop.run();
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                    log.accept("trainer: a training loop failed: " + t);
                } finally {
                    stopped.countDown();
                }
            }, loop == policyLoop ? "trainer-loop" : "trainer-rewards-loop"));
        }
    }

    private void addRewardModel(RewardKind kind, Path initial, TrainerConfig config,
                                MeterRegistry registry) {
        if (initial == null) {
            return;
        }
        TrainerConfig.Rewards r = config.rewards();
        boolean safety = kind == RewardKind.SAFETY;
        OnlineRewardTraining m = track(new OnlineRewardTraining(kind, r.checkpointDir().resolve(kind.key()), initial,
                new OnlineRewardTraining.Options(r.batchSize(), config.microBatchSize(), config.sequenceLength(),
                        r.learningRate(), RankingLoss.Margin.valueOf(r.margin().toUpperCase(Locale.ROOT)),
                        safety ? r.safetyCalibration() : 0,
                        safety ? r.safetyHelpfulnessShare() : r.helpfulnessSafetyShare(), r.checkpointEverySteps(),
                        r.scheduleSteps(kind)),
                config.lora(), manager));
        rewardModels.add(m);
        RlhfMeters.modelVersion(registry, kind.key(), m::version);
        gauge(registry, "rlhf.trainer.reward." + kind.key() + ".steps", "Online " + kind.key()
                + " reward-model steps", m::steps);
    }

    private static PpoTrainer.Options ppoOptions(TrainerConfig config) {
        TrainerConfig.Ppo p = config.ppo();
        PpoTrainer.Options recipe = PpoTrainer.Options.llama2(p.seed());
        return new PpoTrainer.Options(p.learningRate(), p.miniBatchSize(), p.beta(),
                PpoRewards.KlEstimator.valueOf(p.klEstimator().toUpperCase(Locale.ROOT)), p.gamma(), p.lambda(),
                recipe.clip(), recipe.valueClip(), recipe.valueCoef(), p.seed(),
                PpoTrainer.Estimator.valueOf(estimatorName(config.algorithm())), p.epochs(), p.targetKl(),
                p.valueLearningRate(), p.valueWarmupSteps());
    }

    /** The trainer's algorithm name as the learner's advantage estimator: ppo uses GAE. */
    private static String estimatorName(String algorithm) {
        return TrainerConfig.PPO.equals(algorithm) ? "GAE" : algorithm.toUpperCase(Locale.ROOT);
    }

    static OnlinePpo.Options onlinePpoOptions(TrainerConfig config) {
        boolean ptx = config.ppo().ptxCoef() > 0 && config.replayPerStep() > 0;
        if (config.ppo().ptxCoef() > 0 && (config.replayData() == null || config.replayPerStep() == 0)) {
            throw new IllegalArgumentException("trainer.ppo-ptx-coef needs trainer.replay-data and "
                    + "trainer.replay-per-step (the demonstrations mixed into each step)");
        }
        return new OnlinePpo.Options(config.ppo().batchSize(), config.checkpointEverySteps(),
                config.ppo().maxStaleness(), ppoOptions(config), config.ppo().missingEosPenalty(),
                ptx ? JsonlExamples.read(config.replayData()) : List.of(), ptx ? config.replayPerStep() : 0,
                config.ppo().ptxCoef(), config.sequenceLength(), config.ppo().klTarget(), config.ppo().klHorizon(),
                config.ppo().valueInit());
    }

    private <T extends AutoCloseable> T track(T part) {
        domain.add(part);
        return part;
    }

    /**
     * {@code own} plus the directories the serving pods announced within {@link #SERVED_MAX_AGE}; null (delete
     * nothing) until the announcements on the topic have been read.
     */
    static Supplier<Set<Path>> withServed(ServingTracker served, Supplier<Set<Path>> own) {
        if (served == null) {
            return own;
        }
        return () -> served.directories(System.currentTimeMillis(), SERVED_MAX_AGE).map(dirs -> {
            Set<Path> all = new java.util.HashSet<>(dirs);
            all.addAll(own.get());
            return all;
        }).orElse(null);
    }

    private static boolean awaitCaughtUp(ServingTracker served) {
        try {
            return served.awaitCaughtUp(java.time.Duration.ofSeconds(60));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Deletes the oldest checkpoints beside the one just announced, as trainer.keep-checkpoints says. */
    private static void prune(CheckpointRetention retention, ModelUpdate update, Consumer<String> log) {
        int deleted = retention.prune(Path.of(update.getUri()).getParent());
        if (deleted > 0) {
            log.accept("trainer: deleted " + deleted + " old " + update.getModel() + " checkpoint(s) "
                    + "(trainer.keep-checkpoints)");
        }
    }

    private static void gauge(MeterRegistry registry, String name, String description, LongSupplier value) {
        Gauge.builder(name, value, v -> (double) v.getAsLong()).description(description).strongReference(true)
                .register(registry);
    }

    /** Starts the trainer loops, each on its own thread. */
    public static TrainerMain start(TrainerConfig config, TopicAdmin topics, Consumer<String> log) {
        TrainerMain main = new TrainerMain(config, topics, log);
        main.threads.forEach(Thread::start);
        return main;
    }

    public long policyVersion() {
        return policyVersion.getAsLong();
    }

    /** The version of an online reward model, or -1 when that kind is not trained here. */
    public long rewardVersion(RewardKind kind) {
        return rewardModels.stream().filter(m -> m.kind() == kind).mapToLong(OnlineRewardTraining::version)
                .findFirst().orElse(-1);
    }

    public int metricsPort() {
        return metricsPort;
    }

    /** The loop that trains the policy (rlhf.best or rlhf.rollouts). */
    public LedgeredTopicLoop policyLoop() {
        return policyLoop;
    }

    /** The loop that trains the reward models on rlhf.preferences, or null when none trains here. */
    public LedgeredTopicLoop rewardLoop() {
        return rewardLoop;
    }

    /** Blocks until every loop has ended (error or close). */
    public void awaitTermination() throws InterruptedException {
        stopped.await();
    }

    /** Why a loop stopped on its own, or null. */
    public Throwable failure() {
        return failure.get();
    }

    @Override
    public void close() {
        loops.forEach(LedgeredTopicLoop::close);
        closeDomain();
        manager.close();
        metrics.stop();
        vertx.close();
    }

    private void closeDomain() {
        for (AutoCloseable part : domain) {
            try {
                part.close();
            } catch (Exception e) {
                // closing native memory: nothing more to do
            }
        }
        domain.clear();
    }

    /** Runs as its own process: configuration from RLHF_TRAINER_* / RLHF_KAFKA_* and an optional file argument. */
    /** The trainer's configuration and the topic settings it creates missing topics with. */
    private record Setup(TrainerConfig config, TopicAdmin topics) {}

    /**
     * Runs as its own process ({@link ServiceLauncher}): configuration from RLHF_TRAINER_* / RLHF_KAFKA_* and an
     * optional file; exits 1 when a training loop fails.
     */
    public static void main(String[] args) throws Exception {
        ServiceLauncher.main("trainer", args, TrainerConfig.schema(),
                values -> new Setup(TrainerConfig.from(values), dev.rlhf.platform.kafka.KafkaKeys.topicAdmin(values)),
                setup -> {
                    TrainerMain main = start(setup.config(), setup.topics(), msg -> System.err.println(msg));
                    return new ServiceLauncher.Running() {
                        @Override
                        public int awaitExit() throws InterruptedException {
                            main.awaitTermination();
                            return main.failure() == null ? 0 : 1;
                        }

                        @Override
                        public void close() {
                            main.close();
                        }
                    };
                });
    }
}
