package dev.rlhf.platform.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    enum Device { CPU, GPU, CUDA_GRAPHS }

    static final ConfigKey<Integer> MAX_BATCH = ConfigKey.integer("policy.max-batch-size", 8, 1, 1024,
            "Largest number of requests generated together.");
    static final ConfigKey<Duration> TIMEOUT = ConfigKey.duration("policy.request-timeout", Duration.ofSeconds(30),
            "Deadline for one Generate call.");
    static final ConfigKey<Device> DEVICE = ConfigKey.choice("policy.device", Device.class, Device.CPU,
            "Where the model runs.");
    static final ConfigKey<Boolean> REFLECTION = ConfigKey.bool("policy.reflection", false,
            "Serve gRPC reflection.");
    static final ConfigKey<List<String>> STOP = ConfigKey.list("policy.stop", List.of("</s>"),
            "Default stop sequences.");
    static final ConfigKey<Double> TEMPERATURE = ConfigKey.decimal("policy.temperature", 1.0, 0.0, 2.0,
            "Default sampling temperature.");
    static final ConfigKey<String> BOOTSTRAP = ConfigKey.string("kafka.bootstrap-servers", "127.0.0.1:9092",
            "Kafka bootstrap servers.");
    static final ConfigSchema SCHEMA =
            ConfigSchema.of("policy", MAX_BATCH, TIMEOUT, DEVICE, REFLECTION, STOP, TEMPERATURE, BOOTSTRAP);

    /** How a service maps loaded values to its config record. */
    record PolicyConfig(int maxBatchSize, Duration requestTimeout, Device device, String bootstrapServers) {
        static PolicyConfig from(ConfigValues v) {
            return new PolicyConfig(v.get(MAX_BATCH), v.get(TIMEOUT), v.get(DEVICE), v.get(BOOTSTRAP));
        }
    }

    @TempDir
    Path dir;

    @Test
    void laterSourcesWinDefaultsThenFileThenEnvironmentThenOverrides() throws IOException {
        Path file = write("policy.properties", """
                policy.max-batch-size=16
                policy.request-timeout=5m
                policy.device=gpu
                policy.reflection=true
                """);
        Map<String, String> env = Map.of(
                "RLHF_POLICY_REQUEST_TIMEOUT", "90s",
                "RLHF_POLICY_DEVICE", "cuda-graphs",
                "RLHF_POLICY_REFLECTION", "false");
        ConfigValues values = SCHEMA.loader().file(file).env(env)
                .overrides(Map.of("policy.reflection", true)).load();

        assertEquals(1.0, values.get(TEMPERATURE));
        assertEquals("default", values.origin(TEMPERATURE));
        assertEquals(16, values.get(MAX_BATCH));
        assertEquals("file " + file, values.origin(MAX_BATCH));
        assertEquals(Duration.ofSeconds(90), values.get(TIMEOUT));
        assertEquals("environment variable RLHF_POLICY_REQUEST_TIMEOUT", values.origin(TIMEOUT));
        assertEquals(Device.CUDA_GRAPHS, values.get(DEVICE));
        assertEquals(true, values.get(REFLECTION));
        assertEquals("override", values.origin(REFLECTION));
    }

    @Test
    void loadsIntoATypedRecord() {
        PolicyConfig config = SCHEMA.loader().env(Map.of("RLHF_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"))
                .load(PolicyConfig::from);

        assertEquals(new PolicyConfig(8, Duration.ofSeconds(30), Device.CPU, "kafka:9092"), config);
    }

    @Test
    void jsonFileMayNestObjectsAndUseArraysForLists() throws IOException {
        Path file = write("policy.json", """
                {"policy": {"max-batch-size": 4, "stop": ["###", " END "]}, "kafka.bootstrap-servers": "k:1"}
                """);
        ConfigValues values = SCHEMA.loader().file(file).env(Map.of()).load();

        assertEquals(4, values.get(MAX_BATCH));
        assertEquals(List.of("###", "END"), values.get(STOP));
        assertEquals("k:1", values.get(BOOTSTRAP));
    }

    @Test
    void listsFromTheEnvironmentAreCommaSeparated() {
        ConfigValues values = SCHEMA.loader().env(Map.of("RLHF_POLICY_STOP", "a, b,,c")).load();

        assertEquals(List.of("a", "b", "c"), values.get(STOP));
    }

    @Test
    void unknownFileKeyFailsNamingTheKey() throws IOException {
        Path file = write("policy.properties", "policy.max-batch=16\n");

        ConfigException e = assertThrows(ConfigException.class, () -> SCHEMA.loader().file(file).env(Map.of()).load());

        assertEquals(List.of("policy.max-batch"), e.keys());
        assertTrue(e.getMessage().startsWith("policy.max-batch: unknown key in " + file), e.getMessage());
        assertTrue(e.getMessage().contains("did you mean policy.max-batch-size?"), e.getMessage());
    }

    @Test
    void unknownEnvironmentVariableOfTheServicePrefixFailsNamingIt() {
        Map<String, String> env = Map.of("RLHF_POLICY_MAX_BATCH_SIZ", "16");

        ConfigException e = assertThrows(ConfigException.class, () -> SCHEMA.loader().env(env).load());

        assertEquals(List.of("RLHF_POLICY_MAX_BATCH_SIZ"), e.keys());
        assertTrue(e.getMessage().contains("RLHF_POLICY_MAX_BATCH_SIZ: unknown environment variable for policy"
                + " (did you mean RLHF_POLICY_MAX_BATCH_SIZE?)"), e.getMessage());
    }

    @Test
    void environmentVariablesOfOtherServicesAndSharedNamespacesAreIgnored() {
        Map<String, String> env = Map.of(
                "RLHF_SAMPLER_BEST_OF_N", "8",
                "RLHF_KAFKA_SOMETHING_ELSE", "x",
                "RLHF_POLICYX", "not this prefix either",
                "PATH", "/usr/bin");

        ConfigValues values = SCHEMA.loader().env(env).load();

        assertEquals(8, values.get(MAX_BATCH));
    }

    @Test
    void nonIntegerFailsNamingKeyAndValue() {
        Map<String, String> env = Map.of("RLHF_POLICY_MAX_BATCH_SIZE", "abc");

        ConfigException e = assertThrows(ConfigException.class, () -> SCHEMA.loader().env(env).load());

        assertEquals("policy.max-batch-size: expected an integer in [1, 1024], got 'abc'"
                + " (from environment variable RLHF_POLICY_MAX_BATCH_SIZE)", e.getMessage());
        assertEquals(List.of("policy.max-batch-size"), e.keys());
    }

    @Test
    void outOfRangeValueFailsNamingKeyAndValue() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> SCHEMA.loader().env(Map.of()).overrides(Map.of("policy.max-batch-size", 2048)).load());

        assertEquals("policy.max-batch-size: expected an integer in [1, 1024], got '2048' (from override)",
                e.getMessage());
    }

    @Test
    void badValuesOfEachTypeAreReportedTogether() {
        Map<String, String> env = Map.of(
                "RLHF_POLICY_REQUEST_TIMEOUT", "30 seconds",
                "RLHF_POLICY_DEVICE", "tpu",
                "RLHF_POLICY_REFLECTION", "yes",
                "RLHF_POLICY_TEMPERATURE", "NaN");

        ConfigException e = assertThrows(ConfigException.class, () -> SCHEMA.loader().env(env).load());

        assertEquals(List.of("policy.request-timeout", "policy.device", "policy.reflection", "policy.temperature"),
                e.keys());
        assertTrue(e.getMessage().contains("policy.device: expected one of [cpu, gpu, cuda-graphs], got 'tpu'"),
                e.getMessage());
        assertTrue(e.getMessage().contains("policy.reflection: expected true or false, got 'yes'"), e.getMessage());
        assertTrue(e.getMessage().contains("policy.request-timeout: expected a duration like 500ms, 30s, 5m, 1h or"
                + " PT1M, got '30 seconds'"), e.getMessage());
        assertTrue(e.getMessage().contains("policy.temperature: expected a number in [0.0, 2.0], got 'NaN'"),
                e.getMessage());
    }

    @Test
    void requiredKeyWithoutValueFails() {
        ConfigKey<String> checkpoint = ConfigKey.string("policy.checkpoint", null, "Checkpoint directory.");
        ConfigSchema schema = ConfigSchema.of("policy", checkpoint);

        ConfigException e = assertThrows(ConfigException.class, () -> schema.loader().env(Map.of()).load());

        assertTrue(e.getMessage().startsWith("policy.checkpoint: required"), e.getMessage());
        assertEquals("/ckpt", schema.loader().env(Map.of("RLHF_POLICY_CHECKPOINT", "/ckpt")).load().get(checkpoint));
    }

    @Test
    void customCheckRejectsWithItsOwnWording() {
        ConfigKey<Integer> even = ConfigKey.integer("policy.heads", 2, 1, 64, "Attention heads.")
                .withCheck(v -> v % 2 == 0, "an even integer in [1, 64]");
        ConfigSchema schema = ConfigSchema.of("policy", even);

        ConfigException e = assertThrows(ConfigException.class,
                () -> schema.loader().env(Map.of("RLHF_POLICY_HEADS", "3")).load());

        assertTrue(e.getMessage().startsWith("policy.heads: expected an even integer in [1, 64], got '3'"),
                e.getMessage());
    }

    @Test
    void unknownOverrideKeyAndMissingFileFail() {
        ConfigException unknown = assertThrows(ConfigException.class,
                () -> SCHEMA.loader().env(Map.of()).overrides(Map.of("policy.nope", 1)).load());
        assertEquals(List.of("policy.nope"), unknown.keys());

        Path missing = dir.resolve("absent.json");
        ConfigException notFound = assertThrows(ConfigException.class,
                () -> SCHEMA.loader().file(missing).env(Map.of()).load());
        assertTrue(notFound.getMessage().contains("config file not found"), notFound.getMessage());
    }

    @Test
    void describeListsEveryKeyWithEnvironmentVariableTypeDefaultAndDescription() {
        String text = SCHEMA.describe();

        for (ConfigKey<?> key : SCHEMA.keys()) {
            assertTrue(text.contains(key.name() + "  (" + key.envVar() + ")"), key.name());
            assertTrue(text.contains(key.description()), key.name());
        }
        assertTrue(text.contains("an integer in [1, 1024]; default 8"), text);
        assertTrue(text.contains("default 30s"), text);
        assertTrue(text.contains("one of [cpu, gpu, cuda-graphs]; default cpu"), text);
    }

    @Test
    void schemaRefusesKeysThatShareAnEnvironmentVariable() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigSchema.of("policy",
                ConfigKey.integer("policy.max-batch", 1, "a"), ConfigKey.integer("policy.max.batch", 1, "b")));

        assertTrue(e.getMessage().contains("RLHF_POLICY_MAX_BATCH"), e.getMessage());
    }

    @Test
    void defaultOutsideItsOwnRangeIsRejectedAtDeclaration() {
        assertThrows(IllegalArgumentException.class, () -> ConfigKey.integer("policy.size", 0, 1, 10, "size"));
    }

    @Test
    void durationsAcceptShortAndIsoForms() {
        assertEquals(Duration.ofMillis(500), ConfigKey.parseDuration("500ms"));
        assertEquals(Duration.ofMinutes(5), ConfigKey.parseDuration("5m"));
        assertEquals(Duration.ofHours(36), ConfigKey.parseDuration("PT36H"));
        assertEquals("90s", ConfigKey.formatDuration(Duration.ofSeconds(90)));
        assertEquals("2h", ConfigKey.formatDuration(Duration.ofMinutes(120)));
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }
}
