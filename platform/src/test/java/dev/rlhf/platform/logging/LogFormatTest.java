package dev.rlhf.platform.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.LoggerContext;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/** The services' two log formats, written by a Logback context of the test's own and read back. */
class LogFormatTest {

    @Test
    void jsonIsOneObjectPerLineWithTheFilledInMessageAndTheException() {
        List<String> lines = log(LogFormat.JSON);
        assertEquals(2, lines.size(), String.join("\n", lines));
        JsonObject first = JsonParser.parseString(lines.get(0)).getAsJsonObject();
        assertEquals("INFO", first.get("level").getAsString());
        assertEquals("dev.rlhf.test", first.get("loggerName").getAsString());
        assertEquals("serving policy version 7 from \"/models/v7\"", first.get("formattedMessage").getAsString());
        assertEquals(Thread.currentThread().getName(), first.get("threadName").getAsString());
        assertTrue(first.get("timestamp").getAsLong() > 0);
        assertFalse(first.has("message"), "only the filled-in message, not its template");
        JsonObject second = JsonParser.parseString(lines.get(1)).getAsJsonObject();
        assertEquals("WARN", second.get("level").getAsString());
        JsonObject thrown = second.getAsJsonObject("throwable");
        assertEquals(IllegalStateException.class.getName(), thrown.get("className").getAsString());
        assertEquals("disk full", thrown.get("message").getAsString());
    }

    @Test
    void textIsOneLinePerEventAndDebugIsOff() {
        List<String> lines = log(LogFormat.TEXT);
        assertTrue(lines.get(0).matches("\\d{4}-\\d\\d-\\d\\dT\\S+ \\[[^]]+] INFO dev\\.rlhf\\.test - serving policy "
                + "version 7 from \"/models/v7\""), lines.get(0));
        assertTrue(lines.get(1).contains(" WARN dev.rlhf.test - update refused"), lines.get(1));
        assertTrue(lines.get(2).startsWith(IllegalStateException.class.getName() + ": disk full"), lines.get(2));
        assertTrue(lines.stream().noneMatch(l -> l.contains("not shown")));
    }

    @Test
    void anUnknownFormatIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LogFormat.apply("xml"));
        assertEquals("log format must be text or json, got 'xml'", e.getMessage());
        // Here slf4j-simple is the provider (as in the CLI), so a valid format changes nothing.
        assertFalse(LogFormat.apply(LogFormat.JSON));
    }

    /**
     * As in a service image, where Logback is the provider: its start-up takes the format from RLHF_LOG_FORMAT
     * (through META-INF/services), and {@link LogFormat#apply} switches it later.
     */
    @Test
    void aProcessWithLogbackStartsInTheVariablesFormatAndSwitchesWhenTold() throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dslf4j.provider=ch.qos.logback.classic.spi.LogbackServiceProvider",
                "-cp", System.getProperty("java.class.path"), Child.class.getName())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        builder.environment().put(LogFormat.VARIABLE, LogFormat.JSON);
        Process child = builder.start();
        String stderr;
        try (InputStream err = child.getErrorStream()) {
            stderr = new String(err.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, child.exitValue(), stderr);
        // SLF4J announces the provider the property chose; the image has one provider and no such line.
        List<String> lines = stderr.lines().filter(l -> !l.startsWith("SLF4J(I)")).toList();
        assertEquals(2, lines.size(), stderr);
        assertEquals("started in json", JsonParser.parseString(lines.get(0)).getAsJsonObject()
                .get("formattedMessage").getAsString());
        assertTrue(lines.get(1).endsWith(" INFO child - now in text"), lines.get(1));
    }

    /** The child process of the test above. */
    public static final class Child {
        public static void main(String[] args) {
            org.slf4j.LoggerFactory.getLogger("child").info("started in {}", System.getenv(LogFormat.VARIABLE));
            if (!LogFormat.apply(LogFormat.TEXT)) {
                throw new AssertionError("Logback is not the provider");
            }
            org.slf4j.LoggerFactory.getLogger("child").info("now in text");
        }
    }

    private static List<String> log(String format) {
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter()); // SLF4J's start-up would set it
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        LogbackSetup.configure(context, format, out);
        Logger log = context.getLogger("dev.rlhf.test");
        log.debug("not shown");
        log.info("serving policy version {} from \"{}\"", 7, "/models/v7");
        log.warn("update refused", new IllegalStateException("disk full"));
        context.stop();
        return out.toString(StandardCharsets.UTF_8).lines().toList();
    }
}
