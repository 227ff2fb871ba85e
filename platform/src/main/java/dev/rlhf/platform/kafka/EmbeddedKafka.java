package dev.rlhf.platform.kafka;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.common.utils.Time;

/**
 * A real single-node KRaft Kafka broker (broker and controller in one) inside this JVM on loopback, for local
 * runs and tests.
 */
public final class EmbeddedKafka implements KafkaBroker {

    private final KafkaRaftServer server;
    private final Path root;
    private final String bootstrapServers;
    private final boolean durable;
    private final String clusterId;
    private boolean closed;

    private EmbeddedKafka(KafkaRaftServer server, Path root, String bootstrapServers, boolean durable,
                          String clusterId) {
        this.server = server;
        this.root = root;
        this.bootstrapServers = bootstrapServers;
        this.durable = durable;
        this.clusterId = clusterId;
    }

    /** Starts a broker on free loopback ports with the default settings. */
    public static EmbeddedKafka start() {
        return builder().start();
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String bootstrapServers() {
        return bootstrapServers;
    }

    @Override
    public String description() {
        return "embedded KRaft broker (Kafka " + AppInfoParser.getVersion() + ") at "
                + bootstrapServers + ", data in " + root;
    }

    /** The directory holding the server properties and the log directory. */
    public Path dataDirectory() {
        return root;
    }

    /** The KRaft cluster id its storage was formatted with: the same after a restart on the same directory. */
    public String clusterId() {
        return clusterId;
    }

    /**
     * Shuts the broker down and waits for it; a temporary data directory is deleted, a durable one ({@link
     * Builder#dataDirectory}) kept for the next start. Later calls do nothing.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            server.shutdown();
            server.awaitShutdown();
        } finally {
            if (!durable) {
                deleteRecursively(root);
            }
        }
    }

    /** Settings for an {@link EmbeddedKafka}; everything has a working default. */
    public static final class Builder {
        private int port;
        private int controllerPort;
        private Duration startTimeout = Duration.ofSeconds(60);
        private final Map<String, String> overrides = new LinkedHashMap<>();
        private Path dataDirectory;

        private Builder() {
        }

        /**
         * Keeps the broker's data (its log: topics, offsets, transactions, group offsets) in {@code dir} across
         * restarts: storage is formatted only when {@code dir} holds none yet, and the directory is kept on close.
         * A restart reuses the previous ports when they are free. Default: a temporary directory, deleted on close.
         */
        public Builder dataDirectory(Path dir) {
            this.dataDirectory = Objects.requireNonNull(dir);
            return this;
        }

        /** The client listener port; 0 (default) picks a free one. */
        public Builder port(int p) {
            this.port = p;
            return this;
        }

        /** The controller listener port; 0 (default) picks a free one. */
        public Builder controllerPort(int p) {
            this.controllerPort = p;
            return this;
        }

        /** How long {@link #start()} waits for the broker to answer; slow CI machines need more than a laptop. */
        public Builder startTimeout(Duration timeout) {
            this.startTimeout = Objects.requireNonNull(timeout);
            return this;
        }

        /** A broker setting that wins over the defaults below, e.g. {@code num.partitions}. */
        public Builder brokerProperty(String key, String value) {
            overrides.put(key, value);
            return this;
        }

        /**
         * Formats storage in a new temporary directory (deleted on {@link EmbeddedKafka#close()}), starts the
         * server and returns once it answers {@code describeCluster}. StorageTool and KafkaRaftServer are called
         * directly because {@code StorageTool.main} and {@code kafka.Kafka.main} end with {@code System.exit}.
         *
         * @throws IllegalStateException if formatting fails or the broker does not come up in time
         */
        public EmbeddedKafka start() {
            boolean durable = dataDirectory != null;
            Path root;
            try {
                root = durable ? Files.createDirectories(dataDirectory) : Files.createTempDirectory("rlhf-kafka-");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a directory for Kafka: " + e.getMessage(), e);
            }
            Path logDir = root.resolve("logs");
            Path configFile = root.resolve("server.properties");
            boolean formatted = Files.isRegularFile(logDir.resolve("meta.properties"));
            KafkaRaftServer server = null;
            try {
                int[] previous = formatted ? previousPorts(configFile) : new int[] {0, 0};
                int[] ports = freePorts(port != 0 ? port : reusable(previous[0]),
                        controllerPort != 0 ? controllerPort : reusable(previous[1]));
                String listener = "127.0.0.1:" + ports[0];
                Map<String, String> props = brokerProperties(logDir, listener, ports[1]);
                props.putAll(overrides);
                writeProperties(props, configFile);

                if (!formatted) {
                    format(configFile);
                }
                String clusterId = readClusterId(logDir);

                Properties asProperties = new Properties();
                asProperties.putAll(props);
                server = new KafkaRaftServer(KafkaConfig.fromProps(asProperties, false), Time.SYSTEM);
                server.startup();
                EmbeddedKafka kafka = new EmbeddedKafka(server, root, listener, durable, clusterId);
                awaitReady(listener, startTimeout);
                return kafka;
            } catch (RuntimeException | Error e) {
                if (server != null) {
                    try {
                        server.shutdown();
                        server.awaitShutdown();
                    } catch (RuntimeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                if (!durable) {
                    deleteRecursively(root);
                }
                throw e;
            }
        }
    }

    /** Settings for a fast-starting single node; each line says why it differs from Kafka's default. */
    private static Map<String, String> brokerProperties(Path logDir, String listener, int controllerPort) {
        String controller = "127.0.0.1:" + controllerPort;
        Map<String, String> p = new LinkedHashMap<>();
        // One process is both KRaft roles: no ZooKeeper, no second JVM.
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        // A static one-voter quorum, so storage is formatted without --standalone.
        p.put("controller.quorum.voters", "1@" + controller);
        p.put("controller.listener.names", "CONTROLLER");
        // Loopback only: nothing outside this machine should reach a test broker.
        p.put("listeners", "PLAINTEXT://" + listener + ",CONTROLLER://" + controller);
        p.put("advertised.listeners", "PLAINTEXT://" + listener);
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("log.dirs", logDir.toString());
        // A single broker cannot hold more than one replica of the internal topics.
        p.put("offsets.topic.replication.factor", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        // Internal topics default to 50 partitions each, which dominates start-up and first-use time.
        p.put("offsets.topic.num.partitions", "4");
        p.put("transaction.state.log.num.partitions", "4");
        p.put("share.coordinator.state.topic.num.partitions", "1");
        // Consumer groups start at once instead of waiting 3 s for more members.
        p.put("group.initial.rebalance.delay.ms", "0");
        // Topics come from TopicAdmin with their policies; an auto-created update topic would not be compacted.
        p.put("auto.create.topics.enable", "false");
        // The log cleaner reserves 128 MiB for deduplication by default; compacted topics here are tiny.
        p.put("log.cleaner.dedupe.buffer.size", String.valueOf(4 * 1024 * 1024));
        // Fewer threads than a production broker: this shares a small machine with the services.
        p.put("num.network.threads", "2");
        p.put("num.io.threads", "2");
        p.put("background.threads", "2");
        return p;
    }

    /** The client and controller ports of the last start on this directory, or 0 where unknown. */
    private static int[] previousPorts(Path configFile) {
        int[] ports = {0, 0};
        if (!Files.isRegularFile(configFile)) {
            return ports;
        }
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(configFile, StandardCharsets.UTF_8)) {
            p.load(in);
        } catch (IOException e) {
            return ports;
        }
        ports[0] = portOf(p.getProperty("advertised.listeners", ""));
        ports[1] = portOf(p.getProperty("controller.quorum.voters", ""));
        return ports;
    }

    private static int portOf(String hostPort) {
        try {
            return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1).strip());
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            return 0;
        }
    }

    /** {@code port} if it can be bound on loopback now, else 0 (any free port). */
    private static int reusable(int port) {
        if (port <= 0) {
            return 0;
        }
        try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return port;
        } catch (IOException e) {
            return 0;
        }
    }

    private static String readClusterId(Path logDir) {
        Properties meta = new Properties();
        try (var in = Files.newBufferedReader(logDir.resolve("meta.properties"), StandardCharsets.UTF_8)) {
            meta.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + logDir.resolve("meta.properties"), e);
        }
        String id = meta.getProperty("cluster.id");
        if (id == null || id.isBlank()) {
            throw new IllegalStateException(logDir.resolve("meta.properties") + " has no cluster.id");
        }
        return id;
    }

    private static void format(Path configFile) {
        String clusterId = Uuid.randomUuid().toString();
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        int status;
        try (PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8)) {
            // execute() returns a status where main() would call System.exit.
            status = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", configFile.toString()}, out);
        } catch (RuntimeException e) {
            throw new IllegalStateException("formatting Kafka storage failed: " + e.getMessage() + "\n"
                    + output.toString(StandardCharsets.UTF_8), e);
        }
        if (status != 0) {
            throw new IllegalStateException("formatting Kafka storage failed with status " + status + ":\n"
                    + output.toString(StandardCharsets.UTF_8));
        }
    }

    private static void awaitReady(String bootstrapServers, Duration timeout) {
        // Admin retries internally until its timeout, so a single call is the wait.
        try (Admin admin = KafkaClients.admin(bootstrapServers, "rlhf-embedded-kafka-probe")) {
            Collection<Node> nodes = admin.describeCluster(new DescribeClusterOptions()
                    .timeoutMs((int) timeout.toMillis())).nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (nodes.isEmpty()) {
                throw new IllegalStateException("embedded Kafka at " + bootstrapServers + " reports no brokers");
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("embedded Kafka at " + bootstrapServers + " did not answer within "
                    + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for embedded Kafka", e);
        }
    }

    /** Binds port-0 sockets together so the two ports differ, then frees them for the broker. */
    private static int[] freePorts(int... wanted) {
        int[] ports = new int[wanted.length];
        ServerSocket[] sockets = new ServerSocket[wanted.length];
        try {
            for (int i = 0; i < wanted.length; i++) {
                if (wanted[i] != 0) {
                    ports[i] = wanted[i];
                    continue;
                }
                sockets[i] = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets[i].setReuseAddress(true);
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        } finally {
            for (ServerSocket socket : sockets) {
                if (socket != null) {
                    try {
                        socket.close();
                    } catch (IOException ignored) {
                        // Closing a bound, unconnected socket does not fail in practice; the port is free either way.
                    }
                }
            }
        }
    }

    private static void writeProperties(Map<String, String> props, Path file) {
        try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (Map.Entry<String, String> entry : props.entrySet()) {
                writer.write(entry.getKey() + "=" + entry.getValue() + "\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete Kafka data directory " + dir, e);
        }
    }
}
