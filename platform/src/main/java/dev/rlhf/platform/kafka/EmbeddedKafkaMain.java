package dev.rlhf.platform.kafka;

import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.admin.Admin;

/** Runs an {@link EmbeddedKafka} with the rlhf topics until interrupted, for local runs of the services. */
public final class EmbeddedKafkaMain {

    private static final String USAGE = """
            usage: EmbeddedKafkaMain [--port N] [--partitions N]
              --port N        client port on 127.0.0.1 (default: a free one)
              --partitions N  partitions per rlhf topic (default 1)
            Prints bootstrap.servers=<host:port> once the broker is ready; Ctrl-C stops it and deletes its data.""";

    private EmbeddedKafkaMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        int port = 0;
        int partitions = 1;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--port" -> port = Integer.parseInt(args[++i]);
                    case "--partitions" -> partitions = Integer.parseInt(args[++i]);
                    case "--help", "-h" -> {
                        System.out.println(USAGE);
                        return;
                    }
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]);
                }
            }
        } catch (RuntimeException e) {
            System.err.println("EmbeddedKafkaMain: " + (e instanceof ArrayIndexOutOfBoundsException
                    ? "missing value after " + args[args.length - 1] : e.getMessage()));
            System.err.println(USAGE);
            System.exit(2);
        }

        EmbeddedKafka kafka = EmbeddedKafka.builder().port(port).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            kafka.close();
            stopped.countDown();
        }, "embedded-kafka-shutdown"));
        try (Admin admin = KafkaClients.admin(kafka.bootstrapServers(), "embedded-kafka-main")) {
            new TopicAdmin(partitions, (short) 1).ensureTopics(admin);
        }
        System.out.println("bootstrap.servers=" + kafka.bootstrapServers());
        System.out.println(kafka.description() + "; topics " + Topics.ALL + " ready; Ctrl-C to stop");
        stopped.await();
    }
}
