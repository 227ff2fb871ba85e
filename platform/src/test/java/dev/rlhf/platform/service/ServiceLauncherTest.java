package dev.rlhf.platform.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.kafka.KafkaKeys;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The entry every service's main goes through: help, configuration errors, start failures, exit codes. */
class ServiceLauncherTest {
    static final ConfigKey<Integer> N = ConfigKey.integer("demo.n", 1, 1, 10, "How many.");
    static final ConfigSchema SCHEMA;

    static {
        List<ConfigKey<?>> keys = new ArrayList<>(KafkaKeys.ALL);
        keys.add(N);
        SCHEMA = ConfigSchema.of("demo", keys);
    }

    @TempDir
    Path tmp;

    record Outcome(int code, String out, String err) {}

    private static Outcome run(ServiceLauncher.Starter<Integer> starter, String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = ServiceLauncher.run("demo", args, SCHEMA, v -> v.get(N), starter,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static ServiceLauncher.Running exitingWith(int code) {
        return new ServiceLauncher.Running() {
            @Override
            public int awaitExit() {
                return code;
            }

            @Override
            public void close() {
            }
        };
    }

    @Test
    void helpListsTheKeysAndExitsZeroWithoutStarting() throws Exception {
        Outcome o = run(n -> {
            throw new AssertionError("must not start");
        }, "--help");
        assertEquals(0, o.code());
        assertTrue(o.out().startsWith("usage: demo [CONFIG_FILE]") && o.out().contains("demo.n"), o.out());
    }

    @Test
    void aBadConfigurationIsOneLineAndExitTwo() throws Exception {
        Path file = Files.writeString(tmp.resolve("demo.properties"), "demo.n=99\n");
        Outcome o = run(n -> exitingWith(0), file.toString());
        assertEquals(2, o.code());
        assertTrue(o.err().startsWith("demo: ") && o.err().contains("demo.n") && o.err().strip().lines().count() == 1,
                o.err());
        Outcome two = run(n -> exitingWith(0), "a", "b");
        assertEquals(2, two.code());
        assertTrue(two.err().contains("expected at most one argument"), two.err());
    }

    @Test
    void aFailedStartIsExitOneAndTheServicesOwnExitCodeIsReturned() throws Exception {
        Outcome failed = run(n -> {
            throw new IllegalStateException("port 50051 in use");
        });
        assertEquals(1, failed.code());
        assertEquals("demo: cannot start: port 50051 in use", failed.err().strip());
        int[] started = {0};
        Outcome ran = run(n -> {
            started[0] = n;
            return exitingWith(7);
        }, Files.writeString(tmp.resolve("ok.properties"), "demo.n=3\n").toString());
        assertEquals(7, ran.code());
        assertEquals(3, started[0], "the configuration reached the service");
    }

    @Test
    void untilClosedEndsWhenClosedAndClosesTheService() throws Exception {
        boolean[] closed = {false};
        ServiceLauncher.Running running = ServiceLauncher.untilClosed(() -> closed[0] = true);
        Thread stopper = new Thread(running::close);
        stopper.start();
        assertEquals(0, running.awaitExit());
        stopper.join();
        assertTrue(closed[0]);
    }
}
