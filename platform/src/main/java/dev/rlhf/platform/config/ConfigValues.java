package dev.rlhf.platform.config;

import java.util.Map;
import java.util.stream.Collectors;

/** The resolved, validated values of one {@link ConfigSchema}, with where each one came from. */
public final class ConfigValues {

    private final ConfigSchema schema;
    private final Map<String, Object> values;
    private final Map<String, String> origins;

    ConfigValues(ConfigSchema schema, Map<String, Object> values, Map<String, String> origins) {
        this.schema = schema;
        this.values = Map.copyOf(values);
        this.origins = Map.copyOf(origins);
    }

    /**
     * The value of a key of this schema.
     *
     * @throws IllegalArgumentException for a key the schema does not declare, which is a programming error
     */
    public <T> T get(ConfigKey<T> key) {
        requireDeclared(key);
        @SuppressWarnings("unchecked")
        T value = (T) values.get(key.name());
        return value;
    }

    /**
     * Where a key's value came from: {@code default}, {@code file <path>}, {@code environment variable <name>}
     * or {@code override}.
     */
    public String origin(ConfigKey<?> key) {
        requireDeclared(key);
        return origins.get(key.name());
    }

    public ConfigSchema schema() {
        return schema;
    }

    private void requireDeclared(ConfigKey<?> key) {
        if (schema.key(key.name()).orElse(null) != key) {
            throw new IllegalArgumentException(key.name() + " is not a key of the " + schema.prefix() + " schema");
        }
    }

    /** One line per key with its source, for a start-up log line. */
    @Override
    public String toString() {
        return schema.keys().stream().map(this::line).collect(Collectors.joining(", "));
    }

    private <T> String line(ConfigKey<T> key) {
        return key.name() + "=" + key.format(get(key)) + " (" + origin(key) + ")";
    }
}
