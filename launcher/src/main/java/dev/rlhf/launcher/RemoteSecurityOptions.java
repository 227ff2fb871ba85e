package dev.rlhf.launcher;

import dev.rlhf.platform.grpc.GrpcSecurity;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How a {@code --remote} call reaches a secured service: TLS, a client certificate, a bearer token. */
final class RemoteSecurityOptions {
    @Option(names = "--tls", description = "Call the service over TLS (implied by --tls-ca and --tls-cert).")
    boolean tls;

    @Option(names = "--tls-ca", paramLabel = "PEM", description = "CA certificates to trust (default: the JVM's).")
    Path ca;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Client certificate, for mutual TLS.")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Private key (PKCS#8) of --tls-cert.")
    Path key;

    @Option(names = "--token-file", paramLabel = "FILE", description = "A file holding the bearer token to send.")
    Path tokenFile;

    GrpcSecurity.Client client() {
        return new GrpcSecurity.Client(tls || ca != null || cert != null, ca, cert, key, tokenFile);
    }
}
