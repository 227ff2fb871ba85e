package dev.rlhf.platform.grpc;

import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigValues;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Transport security of our gRPC servers and clients: TLS from PEM files, optional mutual TLS, and a bearer token
 * (read from a file, e.g. a mounted Kubernetes Secret). Everything off by default: plaintext on a trusted network.
 */
public final class GrpcSecurity {
    /** gRPC's metadata key for credentials. */
    static final String AUTHORIZATION = "authorization";

    private GrpcSecurity() {}

    /**
     * A server's side.
     *
     * @param certFile PEM certificate chain; with {@code keyFile}, the server speaks TLS (null: plaintext)
     * @param keyFile PEM private key (PKCS#8)
     * @param clientCaFile PEM CA certificates; set: every client must present a certificate they signed (mTLS)
     * @param tokenFile a file holding the bearer token every call but health checks must carry (null: none)
     * @param plaintextHealthPort above 0: a second, plaintext listener serving grpc.health.v1 only, for probes that
     *     cannot speak TLS (Kubernetes' gRPC probes); 0: none
     */
    public record Server(Path certFile, Path keyFile, Path clientCaFile, Path tokenFile, int plaintextHealthPort) {
        public static final Server NONE = new Server(null, null, null, null);

        /** Without a plaintext health listener. */
        public Server(Path certFile, Path keyFile, Path clientCaFile, Path tokenFile) {
            this(certFile, keyFile, clientCaFile, tokenFile, 0);
        }

        public Server {
            if (plaintextHealthPort < 0 || plaintextHealthPort > 65_535) {
                throw new IllegalArgumentException("health port must be in 0..65535, got " + plaintextHealthPort);
            }
            if ((certFile == null) != (keyFile == null)) {
                throw new IllegalArgumentException("TLS needs both a certificate file and a key file");
            }
            if (clientCaFile != null && certFile == null) {
                throw new IllegalArgumentException("client certificates (mTLS) need the server's own TLS certificate");
            }
        }

        public boolean tls() {
            return certFile != null;
        }

        /** The token, read now, or null without a token file. */
        String token() {
            return tokenFile == null ? null : readToken(tokenFile);
        }
    }

    /**
     * A client's side.
     *
     * @param tls speak TLS to the server
     * @param caFile PEM CA certificates to trust (null: the JVM's default trust store)
     * @param certFile PEM client certificate chain for mTLS, with {@code keyFile} (null: none)
     * @param keyFile PEM private key (PKCS#8)
     * @param tokenFile a file holding the bearer token sent with every call (null: none)
     */
    public record Client(boolean tls, Path caFile, Path certFile, Path keyFile, Path tokenFile) {
        public static final Client NONE = new Client(false, null, null, null, null);

        public Client {
            if ((certFile == null) != (keyFile == null)) {
                throw new IllegalArgumentException("a client certificate needs both a certificate file and a key file");
            }
            if (!tls && (caFile != null || certFile != null)) {
                throw new IllegalArgumentException("CA and client certificate files need TLS on");
            }
        }

        /** The token, read now, or null without a token file. */
        public String token() {
            return tokenFile == null ? null : readToken(tokenFile);
        }
    }

    static String readToken(Path file) {
        try {
            String token = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (token.isEmpty() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
                throw new IllegalArgumentException("token file " + file + " must hold one printable ASCII token");
            }
            return token;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read token file " + file + ": " + e.getMessage(), e);
        }
    }

    /** The configuration keys of a server's security, under {@code prefix} ({@code policy}, {@code reward}). */
    public record ServerKeys(ConfigKey<String> cert, ConfigKey<String> key, ConfigKey<String> clientCa,
                             ConfigKey<String> token, ConfigKey<Integer> healthPort) {
        public static ServerKeys of(String prefix) {
            return new ServerKeys(
                    ConfigKey.string(prefix + ".tls-cert-file", "", "PEM certificate chain; with the key file the "
                            + "gRPC server speaks TLS (empty = plaintext)."),
                    ConfigKey.string(prefix + ".tls-key-file", "", "PEM private key (PKCS#8) of the certificate."),
                    ConfigKey.string(prefix + ".tls-client-ca-file", "", "PEM CA certificates: set, every client "
                            + "must present a certificate they signed (mutual TLS)."),
                    ConfigKey.string(prefix + ".auth-token-file", "", "A file holding the bearer token every call "
                            + "except health checks must carry (e.g. a mounted Secret); empty = no token check."),
                    ConfigKey.integer(prefix + ".plaintext-health-port", 0, 0, 65535, "Above 0: a second, "
                            + "plaintext port serving only grpc.health.v1, for probes that cannot speak TLS "
                            + "(Kubernetes' gRPC probes); 0 = none."));
        }

        public List<ConfigKey<?>> all() {
            return List.of(cert, key, clientCa, token, healthPort);
        }

        public Server read(ConfigValues v) {
            return new Server(path(v.get(cert)), path(v.get(key)), path(v.get(clientCa)), path(v.get(token)),
                    v.get(healthPort));
        }
    }

    /** The configuration keys of a client's security, under {@code prefix} ({@code sampler}). */
    public record ClientKeys(ConfigKey<Boolean> tls, ConfigKey<String> ca, ConfigKey<String> cert,
                             ConfigKey<String> key, ConfigKey<String> token) {
        public static ClientKeys of(String prefix) {
            return new ClientKeys(
                    ConfigKey.bool(prefix + ".tls", false, "Call the policy and reward services over TLS."),
                    ConfigKey.string(prefix + ".tls-ca-file", "", "PEM CA certificates to trust (empty = the JVM's "
                            + "default trust store)."),
                    ConfigKey.string(prefix + ".tls-cert-file", "", "PEM client certificate for mutual TLS (empty "
                            + "= none)."),
                    ConfigKey.string(prefix + ".tls-key-file", "", "PEM private key (PKCS#8) of the client "
                            + "certificate."),
                    ConfigKey.string(prefix + ".auth-token-file", "", "A file holding the bearer token sent with "
                            + "every call (empty = none)."));
        }

        public List<ConfigKey<?>> all() {
            return List.of(tls, ca, cert, key, token);
        }

        public Client read(ConfigValues v) {
            return new Client(v.get(tls), path(v.get(ca)), path(v.get(cert)), path(v.get(key)), path(v.get(token)));
        }
    }

    private static Path path(String value) {
        return value == null || value.isBlank() ? null : Path.of(value.strip());
    }
}
