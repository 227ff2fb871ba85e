package dev.rlhf.platform.config;

import java.util.List;

/** Start-up failure caused by configuration: names every offending key and the value it was given. */
public final class ConfigException extends RuntimeException {

    private final List<String> keys;

    public ConfigException(List<String> keys, List<String> problems) {
        super(String.join("; ", problems));
        this.keys = List.copyOf(keys);
    }

    /** The keys (or environment variable names, for unknown ones) that caused the failure, in report order. */
    public List<String> keys() {
        return keys;
    }
}
