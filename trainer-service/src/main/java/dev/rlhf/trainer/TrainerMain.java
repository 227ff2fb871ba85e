package dev.rlhf.trainer;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.data.JsonlExamples;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.trainer.domain.RejectionSamplingSft;
import dev.rlhf.trainer.kafka.BestSampleTrainingLoop;
import java.nio.file.Path;

import java.util.concurrent.CountDownLatch;
import java.util.List;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;

/** Wiring of the trainer service: config -> domain (online SFT) -> Kafka loop. */
public final class TrainerMain implements AutoCloseable {
    private final NDManager manager;
    private final RejectionSamplingSft trainer;
    private final BestSampleTrainingLoop loop;
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final io.vertx.core.Vertx vertx;
    private final dev.rlhf.platform.metrics.MetricsServer metrics;
    private final int metricsPort;

    private TrainerMain(TrainerConfig config, TopicAdmin topics, Consumer<String> log) {
        try (Admin admin = KafkaClients.admin(config.bootstrapServers(), "trainer-admin")) {
            topics.ensureTopics(admin);
        }
        this.manager = NDManager.newBaseManager(Devices.resolve(config.device()));
        this.trainer = new RejectionSamplingSft(config.checkpointDir(), config.initialPolicy(),
                new RejectionSamplingSft.Options(config.batchSize(), config.microBatchSize(), config.sequenceLength(),
                        config.learningRate(), config.checkpointEverySteps(),
                        config.replayData() == null ? List.of() : JsonlExamples.read(config.replayData()),
                        config.replayPerStep()), manager);
        this.loop = new BestSampleTrainingLoop(trainer, config.bootstrapServers(), config.pollTimeout(), log);
        var registry = dev.rlhf.platform.metrics.RlhfMeters.newRegistry("trainer");
        dev.rlhf.platform.metrics.RlhfMeters.modelVersion(registry, "policy", trainer::version);
        io.micrometer.core.instrument.Gauge.builder("rlhf.trainer.steps", trainer, RejectionSamplingSft::steps)
                .description("SFT steps taken").strongReference(true).register(registry);
        io.micrometer.core.instrument.Gauge.builder("rlhf.trainer.buffered.samples", trainer,
                RejectionSamplingSft::buffered).description("Best samples read but not yet trained")
                .strongReference(true).register(registry);
        io.micrometer.core.instrument.Gauge.builder("rlhf.trainer.consumed.records", loop,
                BestSampleTrainingLoop::consumed).description("Records read from rlhf.best since start")
                .strongReference(true).register(registry);
        this.vertx = io.vertx.core.Vertx.vertx();
        this.metrics = new dev.rlhf.platform.metrics.MetricsServer(vertx, registry, "0.0.0.0", config.metricsPort());
        try {
            this.metricsPort = metrics.start().toCompletionStage().toCompletableFuture()
                    .get(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            vertx.close();
            throw new IllegalStateException("cannot start the metrics server on port " + config.metricsPort(), e);
        }
        this.thread = new Thread(() -> {
            try {
                loop.run();
            } finally {
                stopped.countDown();
            }
        }, "trainer-loop");
    }

    /** Starts the trainer loop on its own thread. */
    public static TrainerMain start(TrainerConfig config, TopicAdmin topics, Consumer<String> log) {
        TrainerMain main = new TrainerMain(config, topics, log);
        main.thread.start();
        return main;
    }

    public long policyVersion() {
        return trainer.version();
    }

    public int metricsPort() {
        return metricsPort;
    }

    public BestSampleTrainingLoop loop() {
        return loop;
    }

    /** Blocks until the loop ends (error or close). */
    public void awaitTermination() throws InterruptedException {
        stopped.await();
    }

    @Override
    public void close() {
        loop.close();
        trainer.close();
        manager.close();
        metrics.stop();
        vertx.close();
    }

    /** Runs as its own process: configuration from RLHF_TRAINER_* / RLHF_KAFKA_* and an optional file argument. */
    public static void main(String[] args) throws Exception {
        TrainerConfig config;
        var values = TrainerConfig.schema().loader();
        if (args.length > 0) {
            values.file(Path.of(args[0]));
        }
        try {
            var loaded = values.load();
            dev.rlhf.platform.kafka.KafkaSecurity.install(loaded); // once, for every Kafka client of this process
            config = TrainerConfig.from(loaded);
            TrainerMain main = start(config, dev.rlhf.platform.kafka.KafkaKeys.topicAdmin(loaded),
                    msg -> System.err.println(msg));
            Runtime.getRuntime().addShutdownHook(new Thread(main::close, "trainer-shutdown"));
            main.awaitTermination();
        } catch (ConfigException e) {
            System.err.println("trainer: " + e.getMessage());
            System.exit(2);
        }
    }

}
