package dev.rlhf.platform.config;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/** The keys one service accepts, named by a service prefix such as {@code policy}. */
public final class ConfigSchema {

    private static final Pattern PREFIX = Pattern.compile("[a-z0-9]+(?:-[a-z0-9]+)*");

    private final String prefix;
    private final Map<String, ConfigKey<?>> byName;
    private final Map<String, ConfigKey<?>> byEnvVar;
    private final List<ConfigKey<?>> orderedKeys;

    private ConfigSchema(String prefix, Collection<? extends ConfigKey<?>> keys) {
        if (!PREFIX.matcher(prefix).matches()) {
            throw new IllegalArgumentException("schema prefix must be one lower-case word (dashes allowed): "
                    + prefix);
        }
        this.prefix = prefix;
        Map<String, ConfigKey<?>> names = new LinkedHashMap<>();
        Map<String, ConfigKey<?>> envVars = new LinkedHashMap<>();
        for (ConfigKey<?> key : keys) {
            if (names.putIfAbsent(key.name(), key) != null) {
                throw new IllegalArgumentException("config key declared twice: " + key.name());
            }
            // '.' and '-' both become '_', so two names can collide in the environment; refuse that up front.
            ConfigKey<?> clash = envVars.putIfAbsent(key.envVar(), key);
            if (clash != null) {
                throw new IllegalArgumentException("config keys " + clash.name() + " and " + key.name()
                        + " share the environment variable " + key.envVar());
            }
        }
        this.byName = Map.copyOf(names);
        this.byEnvVar = Map.copyOf(envVars);
        this.orderedKeys = List.copyOf(names.values());
    }

    public static ConfigSchema of(String prefix, ConfigKey<?>... keys) {
        return new ConfigSchema(prefix, List.of(keys));
    }

    public static ConfigSchema of(String prefix, Collection<? extends ConfigKey<?>> keys) {
        return new ConfigSchema(prefix, keys);
    }

    /** The service prefix, such as {@code policy}. */
    public String prefix() {
        return prefix;
    }

    /**
     * Environment variables starting with this ({@code RLHF_POLICY_}) belong to the service and must match a key.
     * Keys may live outside the prefix (shared ones such as {@code kafka.bootstrap-servers}); those are read from
     * the environment too, but an unknown {@code RLHF_KAFKA_*} variable is no error here, as another service may
     * own it. Every key in a file or an override map must be declared.
     */
    public String envPrefix() {
        return "RLHF_" + prefix.toUpperCase(Locale.ROOT).replace('-', '_') + "_";
    }

    /** The keys in declaration order. */
    public List<ConfigKey<?>> keys() {
        return orderedKeys;
    }

    public Optional<ConfigKey<?>> key(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    Optional<ConfigKey<?>> keyForEnvVar(String envVar) {
        return Optional.ofNullable(byEnvVar.get(envVar));
    }

    /** A loader reading the process environment unless {@link ConfigLoader#env} replaces it. */
    public ConfigLoader loader() {
        return new ConfigLoader(this);
    }

    /** A plain-text listing of every key with its environment variable, type, default and description. */
    public String describe() {
        StringBuilder out = new StringBuilder();
        out.append("Configuration keys for ").append(prefix)
                .append(" (later sources win: defaults, config file (.properties or .json), environment ")
                .append("RLHF_<KEY> with '.' and '-' as '_', overrides):\n");
        for (ConfigKey<?> key : orderedKeys) {
            out.append("  ").append(key.name()).append("  (").append(key.envVar()).append(")\n");
            out.append("      ").append(key.description()).append('\n');
            out.append("      ").append(key.expectation()).append("; ").append(defaultText(key)).append('\n');
        }
        return out.toString();
    }

    private static <T> String defaultText(ConfigKey<T> key) {
        return key.defaultValue().map(v -> "default " + quoteIfBlank(key.format(v))).orElse("required");
    }

    private static String quoteIfBlank(String s) {
        return s.isBlank() ? "'" + s + "'" : s;
    }
}
