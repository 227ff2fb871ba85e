package dev.rlhf.platform.grpc;

import io.vertx.core.net.SocketAddress;
import java.util.Objects;

/** A gRPC server address, parsed from the {@code HOST:PORT} form used in configuration. */
public record ServiceEndpoint(String host, int port) {

    public ServiceEndpoint {
        if (Objects.requireNonNull(host, "host").isBlank()) {
            throw new IllegalArgumentException("host must not be blank");
        }
        if (port < 1 || port > 65_535) {
            throw new IllegalArgumentException("port must be in 1..65535, got " + port);
        }
    }

    /**
     * Parses {@code host:port}, {@code 10.0.0.7:50051} or {@code [::1]:50051}.
     *
     * @throws IllegalArgumentException naming the text and what is wrong with it
     */
    public static ServiceEndpoint parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("endpoint is empty; expected HOST:PORT such as localhost:50051");
        }
        String trimmed = text.strip();
        int colon = trimmed.lastIndexOf(':');
        if (colon <= 0 || colon == trimmed.length() - 1) {
            throw new IllegalArgumentException("endpoint '" + text + "' is not HOST:PORT (such as localhost:50051)");
        }
        String host = trimmed.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new IllegalArgumentException("endpoint '" + text + "': write IPv6 hosts in brackets, as [::1]:50051");
        }
        String portText = trimmed.substring(colon + 1);
        int port;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("endpoint '" + text + "': port '" + portText + "' is not a number");
        }
        if (port < 1 || port > 65_535) {
            throw new IllegalArgumentException("endpoint '" + text + "': port " + port + " is not in 1..65535");
        }
        if (host.isBlank()) {
            throw new IllegalArgumentException("endpoint '" + text + "' has an empty host");
        }
        return new ServiceEndpoint(host, port);
    }

    public SocketAddress socketAddress() {
        return SocketAddress.inetSocketAddress(port, host);
    }

    @Override
    public String toString() {
        return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    }
}
