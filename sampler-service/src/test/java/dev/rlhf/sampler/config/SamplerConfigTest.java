package dev.rlhf.sampler.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.sampler.SamplerMain;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SamplerConfigTest {

    private static SamplerConfig load(Map<String, String> env) {
        return SamplerConfig.schema().loader().env(env).load(SamplerConfig::from);
    }

    @Test
    void environmentVariablesSetTheSettings() {
        SamplerConfig c = load(Map.of("RLHF_SAMPLER_N", "8", "RLHF_SAMPLER_POLICY", "policy:7000",
                "RLHF_SAMPLER_CALL_TIMEOUT", "3s", "RLHF_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092",
                "RLHF_KAFKA_TOPIC_PARTITIONS", "6"));
        assertEquals(8, c.sampling().n());
        assertEquals("policy:7000", c.policyAddress());
        assertEquals(Duration.ofSeconds(3), c.callTimeout());
        assertEquals("kafka:9092", c.bootstrapServers());
        assertEquals(6, c.topicPartitions());
        assertEquals(0.15, c.safetyThreshold());
    }

    @Test
    void aBadValueFailsNamingTheKeyAndWhatWasExpected() {
        ConfigException e = assertThrows(ConfigException.class, () -> load(Map.of("RLHF_SAMPLER_N", "100")));
        assertEquals(List.of("sampler.n"), e.keys());
        assertTrue(e.getMessage().contains("sampler.n: expected") && e.getMessage().contains("'100'"),
                e.getMessage());

        e = assertThrows(ConfigException.class, () -> load(Map.of("RLHF_SAMPLER_REWARD_SAFETY", "safety-no-port",
                "RLHF_SAMPLER_CALL_TIMEOUT", "0s")));
        // All problems at once, in schema order.
        assertEquals(List.of("sampler.reward-safety", "sampler.call-timeout"), e.keys());
        assertTrue(e.getMessage().contains("HOST:PORT"), e.getMessage());

        e = assertThrows(ConfigException.class, () -> load(Map.of("RLHF_SAMPLER_INITIAL_BACKOFF", "10s",
                "RLHF_SAMPLER_MAX_BACKOFF", "1s")));
        assertEquals(List.of("sampler.max-backoff"), e.keys());
    }

    @Test
    void anUnknownKeyFailsNamingItWithTheLikelyIntendedOne() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> load(Map.of("RLHF_SAMPLER_TEMPERATUR", "1.2")));
        assertEquals(List.of("RLHF_SAMPLER_TEMPERATUR"), e.keys());
        assertTrue(e.getMessage().contains("did you mean RLHF_SAMPLER_TEMPERATURE?"), e.getMessage());
    }

    @Test
    void theMainProcessExitsWith2AndOneLineOnBadConfiguration() throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), SamplerMain.class.getName())
                .redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("RLHF_"));
        pb.environment().put("RLHF_SAMPLER_MAX_IN_FLIGHT", "lots");
        Process process = pb.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, process.exitValue(), output);
        List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
        assertEquals(1, lines.size(), output);
        assertTrue(lines.get(0).startsWith("sampler: sampler.max-in-flight: expected"), output);
    }
}
