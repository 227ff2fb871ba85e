package dev.rlhf.platform.config;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Resolves a {@link ConfigSchema} from its sources, later ones winning: declared defaults, an optional
 * {@code .properties} or {@code .json} file, {@code RLHF_<KEY>} environment variables, explicit overrides.
 */
public final class ConfigLoader {

    private final ConfigSchema schema;
    private Path file;
    private Map<String, String> env = System.getenv();
    private Map<String, ?> overrides = Map.of();

    ConfigLoader(ConfigSchema schema) {
        this.schema = schema;
    }

    /** An optional file; null means none. Its type comes from the extension: {@code .properties} or {@code .json}. */
    public ConfigLoader file(Path path) {
        this.file = path;
        return this;
    }

    /** The environment to read {@code RLHF_*} variables from; the process environment unless replaced. */
    public ConfigLoader env(Map<String, String> environment) {
        this.env = Map.copyOf(Objects.requireNonNull(environment, "environment"));
        return this;
    }

    /** Values that win over every other source, keyed by key name; values are strings, lists or toString-able. */
    public ConfigLoader overrides(Map<String, ?> values) {
        this.overrides = new LinkedHashMap<>(Objects.requireNonNull(values, "values"));
        return this;
    }

    /** Loads and maps to the service's config record in one step. */
    public <R> R load(Function<ConfigValues, R> toRecord) {
        return toRecord.apply(load());
    }

    /**
     * Resolves every key; all problems are reported together, so a broken deployment is fixed in one round
     * rather than one key per restart.
     *
     * @throws ConfigException naming each unknown key, unparsable or out-of-range value, missing required key
     *                         or unreadable file
     */
    public ConfigValues load() {
        Problems problems = new Problems();
        Map<String, Raw> chosen = new HashMap<>();

        if (file != null) {
            String origin = "file " + file;
            for (Map.Entry<String, Object> entry : readFile(file, problems).entrySet()) {
                if (schema.key(entry.getKey()).isPresent()) {
                    chosen.put(entry.getKey(), new Raw(entry.getValue(), origin));
                } else {
                    problems.add(entry.getKey(), entry.getKey() + ": unknown key in " + file + suggestion(
                            entry.getKey(), schema.keys().stream().map(ConfigKey::name).toList()));
                }
            }
        }

        for (ConfigKey<?> key : schema.keys()) {
            String value = env.get(key.envVar());
            if (value != null) {
                chosen.put(key.name(), new Raw(value, "environment variable " + key.envVar()));
            }
        }
        // Sorted so that several typos are reported in a stable order.
        for (String var : new TreeMap<>(env).keySet()) {
            if (var.startsWith(schema.envPrefix()) && schema.keyForEnvVar(var).isEmpty()) {
                problems.add(var, var + ": unknown environment variable for " + schema.prefix() + suggestion(var,
                        schema.keys().stream().map(ConfigKey::envVar).toList()));
            }
        }

        for (Map.Entry<String, ?> entry : overrides.entrySet()) {
            if (schema.key(entry.getKey()).isPresent()) {
                chosen.put(entry.getKey(), new Raw(entry.getValue(), "override"));
            } else {
                problems.add(entry.getKey(), entry.getKey() + ": unknown key in overrides" + suggestion(
                        entry.getKey(), schema.keys().stream().map(ConfigKey::name).toList()));
            }
        }

        Map<String, Object> values = new HashMap<>();
        Map<String, String> origins = new HashMap<>();
        for (ConfigKey<?> key : schema.keys()) {
            Raw raw = chosen.get(key.name());
            if (raw == null) {
                if (key.isRequired()) {
                    problems.add(key.name(), key.name() + ": required, expected " + key.expectation()
                            + " (set it in the config file, " + key.envVar() + " or an override)");
                } else {
                    values.put(key.name(), key.defaultValue().orElseThrow());
                    origins.put(key.name(), "default");
                }
                continue;
            }
            try {
                values.put(key.name(), key.parse(raw.value()));
                origins.put(key.name(), raw.origin());
            } catch (IllegalArgumentException e) {
                problems.add(key.name(), key.name() + ": expected " + key.expectation() + ", got '"
                        + ConfigKey.describeValue(raw.value()) + "' (from " + raw.origin() + ")");
            }
        }
        problems.throwIfAny();
        return new ConfigValues(schema, values, origins);
    }

    private static Map<String, Object> readFile(Path path, Problems problems) {
        String name = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
        try (Reader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            if (name.endsWith(".json")) {
                JsonElement root = JsonParser.parseReader(reader);
                if (!root.isJsonObject()) {
                    problems.add(path.toString(), path + ": a JSON config file must hold one object");
                    return Map.of();
                }
                Map<String, Object> flat = new LinkedHashMap<>();
                flatten("", root.getAsJsonObject(), flat, path, problems);
                return flat;
            }
            if (name.endsWith(".properties")) {
                Properties props = new Properties();
                props.load(reader);
                Map<String, Object> flat = new LinkedHashMap<>();
                for (String key : new TreeMap<>(propertiesAsMap(props)).keySet()) {
                    flat.put(key, props.getProperty(key));
                }
                return flat;
            }
            problems.add(path.toString(), path + ": unsupported config file type (use .properties or .json)");
        } catch (NoSuchFileException e) {
            problems.add(path.toString(), path + ": config file not found");
        } catch (IOException | JsonParseException e) {
            problems.add(path.toString(), path + ": cannot read config file: " + e.getMessage());
        }
        return Map.of();
    }

    private static Map<String, String> propertiesAsMap(Properties props) {
        Map<String, String> map = new HashMap<>();
        for (String key : props.stringPropertyNames()) {
            map.put(key, props.getProperty(key));
        }
        return map;
    }

    /** Nested objects become dotted keys, so {@code {"policy": {"port": 1}}} equals {@code {"policy.port": 1}}. */
    private static void flatten(String prefix, JsonObject object, Map<String, Object> out, Path path,
                                Problems problems) {
        for (Map.Entry<String, JsonElement> entry : object.entrySet()) {
            String key = prefix.isEmpty() ? entry.getKey() : prefix + "." + entry.getKey();
            JsonElement value = entry.getValue();
            if (value.isJsonObject()) {
                flatten(key, value.getAsJsonObject(), out, path, problems);
            } else if (value.isJsonArray()) {
                List<String> items = new ArrayList<>();
                for (JsonElement item : (JsonArray) value) {
                    if (!item.isJsonPrimitive()) {
                        problems.add(key, key + ": expected a list of plain values in " + path + ", got " + value);
                        break;
                    }
                    items.add(item.getAsString());
                }
                out.put(key, items);
            } else if (value.isJsonNull()) {
                out.put(key, "null");
            } else {
                out.put(key, value.getAsString());
            }
        }
    }

    /** "did you mean" for a name within a few edits of a known one: typos are the common cause. */
    private static String suggestion(String given, List<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : known) {
            int d = editDistance(given, candidate);
            if (d < bestDistance) {
                bestDistance = d;
                best = candidate;
            }
        }
        return best != null && bestDistance <= Math.max(2, given.length() / 3) ? " (did you mean " + best + "?)" : "";
    }

    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j] + 1, current[j - 1] + 1));
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    private record Raw(Object value, String origin) {
    }

    private static final class Problems {
        private final List<String> keys = new ArrayList<>();
        private final List<String> messages = new ArrayList<>();

        void add(String key, String message) {
            keys.add(key);
            messages.add(message);
        }

        void throwIfAny() {
            if (!messages.isEmpty()) {
                throw new ConfigException(keys, messages);
            }
        }
    }
}
