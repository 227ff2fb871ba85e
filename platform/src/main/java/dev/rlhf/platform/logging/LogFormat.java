package dev.rlhf.platform.logging;

import dev.rlhf.platform.config.ConfigKey;
import java.util.List;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * How the services write their log: text lines (the default) or one JSON object per line, which Kubernetes log
 * collectors index by field. It applies where Logback is the SLF4J provider: the service images. Logback reads
 * {@code RLHF_LOG_FORMAT} when it starts ({@link ServiceLogConfigurator}), and the service applies the configured
 * value again once its configuration is loaded, so a configuration file may set it too. The {@code rlhf} command and
 * the tests log through slf4j-simple, in text.
 */
public final class LogFormat {
    public static final String TEXT = "text";
    public static final String JSON = "json";
    public static final ConfigKey<String> KEY = ConfigKey.oneOf("log.format", List.of(TEXT, JSON), TEXT,
            "Log lines as text, or as one JSON object per line (level, logger, thread, timestamp, formattedMessage, "
                    + "throwable) for a log collector; the service images only.");
    /** The variable Logback's start-up reads, before the configuration is loaded. */
    static final String VARIABLE = "RLHF_LOG_FORMAT";

    private LogFormat() {
    }

    /**
     * Switches the process's log to {@code format} when Logback is its SLF4J provider; returns whether it did.
     *
     * @throws IllegalArgumentException for a format other than text or json
     */
    public static boolean apply(String format) {
        checked(format);
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        if (!factory.getClass().getName().equals("ch.qos.logback.classic.LoggerContext")) {
            return false;
        }
        LogbackSetup.configure(factory, format, null);
        return true;
    }

    static String checked(String format) {
        if (!TEXT.equals(format) && !JSON.equals(format)) {
            throw new IllegalArgumentException("log format must be text or json, got '" + format + "'");
        }
        return format;
    }
}
