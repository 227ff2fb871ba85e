package dev.rlhf.platform.grpc;

import io.vertx.core.spi.VertxServiceProvider;
import io.vertx.core.spi.context.storage.ContextLocal;
import io.vertx.core.internal.VertxBootstrap;

/**
 * Registers the context-local slot that carries a call's {@link CallScope}; loaded through
 * {@code META-INF/services} because Vert.x sizes each context's locals when a Vertx instance is built.
 */
public final class CallScopeRegistration implements VertxServiceProvider {

    static final ContextLocal<CallScope> LOCAL = ContextLocal.registerLocal(CallScope.class);

    @Override
    public void init(VertxBootstrap builder) {
    }
}
