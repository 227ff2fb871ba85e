package dev.rlhf.trainer;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.trainer.domain.RejectionSamplingSft;
import dev.rlhf.trainer.kafka.BestSampleTrainingLoop;
import java.nio.file.Path;

import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;

/** Wiring of the trainer service: config -> domain (online SFT) -> Kafka loop. */
public final class TrainerMain implements AutoCloseable {
    private final NDManager manager;
    private final RejectionSamplingSft trainer;
    private final BestSampleTrainingLoop loop;
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private TrainerMain(TrainerConfig config, TopicAdmin topics, Consumer<String> log) {
        try (Admin admin = KafkaClients.admin(config.bootstrapServers(), "trainer-admin")) {
            topics.ensureTopics(admin);
        }
        this.manager = NDManager.newBaseManager(Devices.resolve(config.device()));
        this.trainer = new RejectionSamplingSft(config.checkpointDir(), config.initialPolicy(),
                new RejectionSamplingSft.Options(config.batchSize(), config.microBatchSize(), config.sequenceLength(),
                        config.learningRate(), config.checkpointEverySteps()), manager);
        this.loop = new BestSampleTrainingLoop(trainer, config.bootstrapServers(), config.pollTimeout(), log);
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
