package dev.rlhf.platform.logging;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * Logback's start-up configuration in the service images (found through {@code META-INF/services}): the format
 * {@code RLHF_LOG_FORMAT} names, text when it is unset or invalid (the service then refuses the invalid value in one
 * line when it loads its configuration).
 */
public final class ServiceLogConfigurator extends ContextAwareBase implements Configurator {
    @Override
    public ExecutionStatus configure(LoggerContext context) {
        String format = System.getenv(LogFormat.VARIABLE);
        LogbackSetup.configure(context, LogFormat.JSON.equals(format) ? LogFormat.JSON : LogFormat.TEXT, null);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }
}
