package dev.rlhf.platform.service;

import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.platform.config.ConfigLoader;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import dev.rlhf.platform.kafka.KafkaSecurity;
import dev.rlhf.platform.logging.LogFormat;
import dev.rlhf.platform.tracing.Tracing;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/**
 * The process entry every service shares, so that none drifts from the others: {@code --help} lists the keys; the
 * configuration comes from an optional file argument and the {@code RLHF_*} variables, with the Kafka login
 * installed once for every client of the process; a bad configuration is one line and exit 2, a failed start one
 * line and exit 1; SIGTERM closes the service (draining it) and the process ends with the signal's status (143);
 * a service that ends on its own exits with its own code (the trainer and sampler: 1 when their loop failed).
 * Traces are exported when the {@code OTEL_*} variables ask for them ({@link Tracing}).
 */
public final class ServiceLauncher {
    private ServiceLauncher() {}

    /** A started service: waiting for it to end, and stopping it. */
    public interface Running extends AutoCloseable {
        /** Blocks until the service ends (stopped, or failed on its own); returns the process exit code. */
        int awaitExit() throws InterruptedException;

        @Override
        void close();
    }

    @FunctionalInterface
    public interface Starter<C> {
        Running start(C config) throws Exception;
    }

    /** For a service that only ends when stopped: waits for {@link Running#close()}, then exits 0. */
    public static Running untilClosed(AutoCloseable service) {
        CountDownLatch closed = new CountDownLatch(1);
        return new Running() {
            @Override
            public int awaitExit() throws InterruptedException {
                closed.await();
                return 0;
            }

            @Override
            public void close() {
                try {
                    service.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                } finally {
                    closed.countDown();
                }
            }
        };
    }

    /** {@link #run(String, String[], ConfigSchema, Function, Starter, PrintStream, PrintStream)}, then exits. */
    public static <C> void main(String name, String[] args, ConfigSchema schema, Function<ConfigValues, C> config,
                                Starter<C> starter) throws InterruptedException {
        System.exit(run(name, args, schema, config, starter, System.out, System.err));
    }

    /**
     * @param name   the service, in every message ("policy: ...")
     * @param config maps the loaded values to the service's record; a ConfigException or IllegalArgumentException
     *               there is a bad configuration too
     * @return 0 after {@code --help} or when the service ends cleanly on its own, 1 when the start or the service
     *         failed, 2 for bad usage or configuration
     */
    public static <C> int run(String name, String[] args, ConfigSchema schema, Function<ConfigValues, C> config,
                              Starter<C> starter, PrintStream out, PrintStream err) throws InterruptedException {
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            out.println("usage: " + name + " [CONFIG_FILE]  (.properties or .json; RLHF_* variables override it)\n"
                    + schema.describe());
            return 0;
        }
        if (args.length > 1) {
            err.println(name + ": expected at most one argument, a configuration file; got " + args.length
                    + " (see --help)");
            return 2;
        }
        C loaded;
        try {
            ConfigLoader loader = schema.loader();
            if (args.length == 1) {
                loader.file(Path.of(args[0]));
            }
            ConfigValues values = loader.load();
            KafkaSecurity.install(values); // once, for every Kafka client of this process
            loaded = config.apply(values);
            if (values.schema().keys().contains(LogFormat.KEY)) {
                LogFormat.apply(values.get(LogFormat.KEY)); // a configuration file may set it too
            }
            // Off unless the OTEL_* variables ask for traces; an invalid setting is a bad configuration.
            Tracing.installFromEnvironment(name);
        } catch (ConfigException | IllegalArgumentException e) {
            err.println(name + ": " + e.getMessage());
            return 2;
        }
        Running running;
        try {
            running = starter.start(loaded);
        } catch (Exception | LinkageError e) {
            err.println(name + ": cannot start: " + e.getMessage());
            Tracing.shutdown();
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                running.close();
            } finally {
                Tracing.shutdown(); // exports the spans still buffered
            }
        }, name + "-shutdown"));
        return running.awaitExit();
    }
}
