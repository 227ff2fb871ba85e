package dev.rlhf.platform.config;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** One typed, immutable configuration key (name, description, default, validation), declared as a constant. */
public final class ConfigKey<T> {

    private static final Pattern NAME = Pattern.compile("[a-z0-9]+(?:[.-][a-z0-9]+)*");
    private static final Pattern SHORT_DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");

    private final String name;
    private final String description;
    private final String typeName;
    private final String expectation;
    private final T defaultValue;
    private final Function<String, T> parser;
    private final Predicate<? super T> check;
    private final Function<? super T, String> formatter;
    private final boolean list;

    /** Names are lower-case words joined by '.' or '-', such as {@code policy.max-batch-size}. */
    private ConfigKey(String name, String description, String typeName, String expectation, T defaultValue,
                      Function<String, T> parser, Predicate<? super T> check, Function<? super T, String> formatter,
                      boolean list) {
        if (!NAME.matcher(Objects.requireNonNull(name, "name")).matches()) {
            throw new IllegalArgumentException("config key name must be lower-case words joined by '.' or '-': "
                    + name);
        }
        this.name = name;
        this.description = Objects.requireNonNull(description, "description");
        this.typeName = typeName;
        this.expectation = expectation;
        this.defaultValue = defaultValue;
        this.parser = parser;
        this.check = check;
        this.formatter = formatter;
        this.list = list;
        // A default that fails its own validation is a programming error: report it where the key is declared.
        if (defaultValue != null && !check.test(defaultValue)) {
            throw new IllegalArgumentException(name + ": default " + format(defaultValue) + " is not "
                    + expectation);
        }
    }

    /** A free-form string; {@code defaultValue} null makes the key required. */
    public static ConfigKey<String> string(String name, String defaultValue, String description) {
        return new ConfigKey<>(name, description, "string", "a string", defaultValue, s -> s, v -> true,
                v -> v, false);
    }

    /**
     * A string that must not appear in logs (a password, a JAAS line): listings and start-up lines show
     * {@code <hidden>} for any non-empty value, so only an empty default is ever printed.
     */
    public static ConfigKey<String> secret(String name, String defaultValue, String description) {
        return new ConfigKey<>(name, description, "string (secret)", "a string", defaultValue, s -> s, v -> true,
                v -> v.isEmpty() ? v : "<hidden>", false);
    }

    /** An int without bounds. */
    public static ConfigKey<Integer> integer(String name, Integer defaultValue, String description) {
        return integer(name, defaultValue, Integer.MIN_VALUE, Integer.MAX_VALUE, description);
    }

    /** An int in {@code [min, max]}. */
    public static ConfigKey<Integer> integer(String name, Integer defaultValue, int min, int max,
                                             String description) {
        return new ConfigKey<>(name, description, "integer", "an integer" + range(min, max,
                Integer.MIN_VALUE, Integer.MAX_VALUE), defaultValue, s -> Integer.parseInt(s.strip()),
                v -> v >= min && v <= max, String::valueOf, false);
    }

    /** A long in {@code [min, max]}. */
    public static ConfigKey<Long> longInteger(String name, Long defaultValue, long min, long max,
                                              String description) {
        return new ConfigKey<>(name, description, "integer", "an integer" + range(min, max,
                Long.MIN_VALUE, Long.MAX_VALUE), defaultValue, s -> Long.parseLong(s.strip()),
                v -> v >= min && v <= max, String::valueOf, false);
    }

    /** A finite double in {@code [min, max]}. */
    public static ConfigKey<Double> decimal(String name, Double defaultValue, double min, double max,
                                            String description) {
        String bounds = min == -Double.MAX_VALUE && max == Double.MAX_VALUE ? "" : " in [" + min + ", " + max + "]";
        return new ConfigKey<>(name, description, "number", "a number" + bounds, defaultValue,
                s -> Double.parseDouble(s.strip()), v -> Double.isFinite(v) && v >= min && v <= max,
                String::valueOf, false);
    }

    /** {@code true} or {@code false}, case-insensitive; nothing else, so "yes" or "1" are reported, not guessed. */
    public static ConfigKey<Boolean> bool(String name, Boolean defaultValue, String description) {
        return new ConfigKey<>(name, description, "boolean", "true or false", defaultValue, ConfigKey::parseBoolean,
                v -> true, String::valueOf, false);
    }

    /** A non-negative duration written {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 2d} or ISO-8601. */
    public static ConfigKey<Duration> duration(String name, Duration defaultValue, String description) {
        return duration(name, defaultValue, Duration.ZERO, null, description);
    }

    /** A duration in {@code [min, max]}; {@code max} null means unbounded. */
    public static ConfigKey<Duration> duration(String name, Duration defaultValue, Duration min, Duration max,
                                               String description) {
        String bounds = max == null
                ? (min.isZero() ? "" : " of at least " + formatDuration(min))
                : " in [" + formatDuration(min) + ", " + formatDuration(max) + "]";
        return new ConfigKey<>(name, description, "duration",
                "a duration like 500ms, 30s, 5m, 1h or PT1M" + bounds, defaultValue, ConfigKey::parseDuration,
                v -> v.compareTo(min) >= 0 && (max == null || v.compareTo(max) <= 0), ConfigKey::formatDuration,
                false);
    }

    /**
     * One constant of an enum, written in lower case with dashes ({@code REJECTION_SAMPLING} is
     * {@code rejection-sampling}); underscores and upper case are accepted too.
     */
    public static <E extends Enum<E>> ConfigKey<E> choice(String name, Class<E> type, E defaultValue,
                                                          String description) {
        List<String> names = Arrays.stream(type.getEnumConstants()).map(ConfigKey::enumName).toList();
        return new ConfigKey<>(name, description, "one of " + names, "one of " + names, defaultValue, s -> {
            String wanted = s.strip().toLowerCase(Locale.ROOT).replace('_', '-');
            for (E constant : type.getEnumConstants()) {
                if (enumName(constant).equals(wanted)) {
                    return constant;
                }
            }
            throw new IllegalArgumentException("not a choice");
        }, v -> true, ConfigKey::enumName, false);
    }

    /** One of a fixed set of strings, matched exactly. */
    public static ConfigKey<String> oneOf(String name, List<String> choices, String defaultValue,
                                          String description) {
        List<String> allowed = List.copyOf(choices);
        return new ConfigKey<>(name, description, "one of " + allowed, "one of " + allowed, defaultValue,
                String::strip, allowed::contains, v -> v, false);
    }

    /** A list of strings: a JSON array in a JSON file, otherwise comma-separated; blanks are dropped. */
    public static ConfigKey<List<String>> list(String name, List<String> defaultValue, String description) {
        return new ConfigKey<>(name, description, "list", "a comma-separated list",
                defaultValue == null ? null : List.copyOf(defaultValue), ConfigKey::splitList, v -> true,
                v -> String.join(",", v), true);
    }

    /** This key with an extra validation; {@code expectation} replaces the wording in error messages. */
    public ConfigKey<T> withCheck(Predicate<? super T> extraCheck, String newExpectation) {
        Predicate<? super T> base = check;
        Predicate<T> both = v -> base.test(v) && extraCheck.test(v);
        return new ConfigKey<>(name, description, typeName, newExpectation, defaultValue, parser, both, formatter,
                list);
    }

    /** This key without a default: loading fails unless some source sets it. */
    public ConfigKey<T> required() {
        return new ConfigKey<>(name, description, typeName, expectation, null, parser, check, formatter, list);
    }

    public String name() {
        return name;
    }

    public String description() {
        return description;
    }

    /** Short type label for listings, such as {@code integer} or {@code one of [cpu, gpu]}. */
    public String typeName() {
        return typeName;
    }

    /** What a valid value looks like, as used in error messages: {@code an integer in [1, 1024]}. */
    public String expectation() {
        return expectation;
    }

    public Optional<T> defaultValue() {
        return Optional.ofNullable(defaultValue);
    }

    public boolean isRequired() {
        return defaultValue == null;
    }

    /** The environment variable that sets this key: {@code RLHF_} + name upper-cased, '.' and '-' as '_'. */
    public String envVar() {
        return envVarFor(name);
    }

    /** A value formatted the way it would be written in a file (durations as {@code 30s}, enums in lower case). */
    public String format(T value) {
        return formatter.apply(value);
    }

    static String envVarFor(String keyName) {
        return "RLHF_" + keyName.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    boolean isList() {
        return list;
    }

    /**
     * Parses and validates a raw value: a {@code String}, or a {@code List<String>} from a JSON array.
     *
     * @throws IllegalArgumentException when the value does not meet {@link #expectation()}
     */
    T parse(Object raw) {
        T value;
        try {
            if (raw instanceof List<?> items) {
                if (!list) {
                    throw new IllegalArgumentException("a list is not " + expectation);
                }
                @SuppressWarnings("unchecked")
                T cleaned = (T) items.stream().map(String::valueOf).map(String::strip).filter(s -> !s.isEmpty())
                        .toList();
                value = cleaned;
            } else {
                value = parser.apply(String.valueOf(raw));
            }
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(expectation, e);
        }
        if (!check.test(value)) {
            throw new IllegalArgumentException(expectation);
        }
        return value;
    }

    private static String range(long min, long max, long typeMin, long typeMax) {
        if (min == typeMin && max == typeMax) {
            return "";
        }
        if (max == typeMax) {
            return " >= " + min;
        }
        if (min == typeMin) {
            return " <= " + max;
        }
        return " in [" + min + ", " + max + "]";
    }

    private static Boolean parseBoolean(String s) {
        String v = s.strip().toLowerCase(Locale.ROOT);
        if (v.equals("true")) {
            return Boolean.TRUE;
        }
        if (v.equals("false")) {
            return Boolean.FALSE;
        }
        throw new IllegalArgumentException("not a boolean");
    }

    private static List<String> splitList(String s) {
        List<String> items = new ArrayList<>();
        for (String part : s.split(",")) {
            if (!part.isBlank()) {
                items.add(part.strip());
            }
        }
        return List.copyOf(items);
    }

    /**
     * A duration as every service reads one: 0, 500ms, 30s, 5m, 1h, 2d (lower-case units, optional space) or
     * ISO-8601 such as PT1M; public so that the manifest tests read durations exactly as the services do.
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Duration parseDuration(String s) {
        String v = s.strip();
        if (v.equals("0")) {
            return Duration.ZERO;
        }
        if (v.startsWith("P") || v.startsWith("p")) {
            try {
                return Duration.parse(v.toUpperCase(Locale.ROOT));
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException(e.getMessage(), e);
            }
        }
        Matcher m = SHORT_DURATION.matcher(v);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a duration");
        }
        long amount = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(amount);
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            case "h" -> Duration.ofHours(amount);
            default -> Duration.ofDays(amount);
        };
    }

    /** The shortest exact short form ({@code 90s}, {@code 5m}); ISO-8601 for sub-millisecond values. */
    static String formatDuration(Duration d) {
        if (d.isZero()) {
            return "0";
        }
        if (d.getNano() % 1_000_000 != 0 || d.isNegative()) {
            return d.toString();
        }
        long ms = d.toMillis();
        if (ms % 86_400_000L == 0) {
            return ms / 86_400_000L + "d";
        }
        if (ms % 3_600_000L == 0) {
            return ms / 3_600_000L + "h";
        }
        if (ms % 60_000L == 0) {
            return ms / 60_000L + "m";
        }
        if (ms % 1_000L == 0) {
            return ms / 1_000L + "s";
        }
        return ms + "ms";
    }

    private static String enumName(Enum<?> constant) {
        return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    @Override
    public String toString() {
        return name;
    }

    static String describeValue(Object raw) {
        if (raw instanceof List<?> items) {
            return items.stream().map(String::valueOf).collect(Collectors.joining(", ", "[", "]"));
        }
        return String.valueOf(raw);
    }
}
