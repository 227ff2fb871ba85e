package dev.rlhf.platform.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.io.OutputStream;
import org.slf4j.ILoggerFactory;

/** Logback's one appender, in either format; only loaded where Logback is on the class path. */
final class LogbackSetup {
    /** As slf4j-simple writes it, with a date: what the services' text logs have always looked like. */
    static final String TEXT_PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} [%thread] %level %logger - %msg%n";

    private LogbackSetup() {
    }

    /**
     * Replaces the context's configuration: INFO and above, to {@code out}, or to standard error when it is null
     * (the container runtime collects both streams; standard output stays for what a command prints).
     */
    static void configure(ILoggerFactory factory, String format, OutputStream out) {
        LoggerContext context = (LoggerContext) factory;
        context.reset();
        Encoder<ILoggingEvent> encoder = LogFormat.JSON.equals(LogFormat.checked(format)) ? json() : text();
        encoder.setContext(context);
        encoder.start();
        OutputStreamAppender<ILoggingEvent> appender;
        if (out == null) {
            ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
            console.setTarget("System.err");
            appender = console;
        } else {
            appender = new OutputStreamAppender<>();
            appender.setOutputStream(out);
        }
        appender.setName("log");
        appender.setContext(context);
        appender.setEncoder(encoder);
        appender.start();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.INFO);
        root.addAppender(appender);
    }

    private static Encoder<ILoggingEvent> text() {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setPattern(TEXT_PATTERN);
        return encoder;
    }

    /** One object per line; the message with its arguments filled in, without the raw template and arguments. */
    private static Encoder<ILoggingEvent> json() {
        JsonEncoder encoder = new JsonEncoder();
        encoder.setWithSequenceNumber(false);
        encoder.setWithNanoseconds(false);
        encoder.setWithContext(false);
        encoder.setWithMessage(false);
        encoder.setWithArguments(false);
        encoder.setWithFormattedMessage(true);
        return encoder;
    }
}
