package dev.rlhf.platform.grpc;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * PEM files for TLS tests, made with the JDK's keytool (no other dependency): a CA, a server certificate it signed
 * for 127.0.0.1 and localhost, a client certificate it signed, and a client certificate signed by nobody we trust.
 */
public final class TestCertificates {
    private static final String PASS = "changeit";

    public final Path caCert;
    public final Path serverCert;
    public final Path serverKey;
    public final Path clientCert;
    public final Path clientKey;
    public final Path rogueCert;
    public final Path rogueKey;

    private TestCertificates(Path dir) {
        caCert = dir.resolve("ca.pem");
        serverCert = dir.resolve("server.pem");
        serverKey = dir.resolve("server.key");
        clientCert = dir.resolve("client.pem");
        clientKey = dir.resolve("client.key");
        rogueCert = dir.resolve("rogue.pem");
        rogueKey = dir.resolve("rogue.key");
    }

    /** Writes every file into {@code dir} (about ten keytool runs). */
    public static TestCertificates create(Path dir) throws IOException, InterruptedException {
        TestCertificates c = new TestCertificates(Files.createDirectories(dir));
        keytool(dir, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=rlhf-test-ca", "-ext", "bc:c", "-validity", "2", "-keystore", "ca.p12");
        keytool(dir, "-exportcert", "-rfc", "-alias", "ca", "-keystore", "ca.p12", "-file", "ca.pem");
        c.signed(dir, "server", "CN=127.0.0.1", "SAN=ip:127.0.0.1,dns:localhost");
        c.signed(dir, "client", "CN=rlhf-sampler", null);
        keytool(dir, "-genkeypair", "-alias", "rogue", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=rogue", "-validity", "2", "-keystore", "rogue.p12");
        keytool(dir, "-exportcert", "-rfc", "-alias", "rogue", "-keystore", "rogue.p12", "-file", "rogue.pem");
        writeKey(dir.resolve("rogue.p12"), "rogue", c.rogueKey);
        return c;
    }

    private void signed(Path dir, String name, String dname, String san) throws IOException, InterruptedException {
        keytool(dir, "-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", dname,
                "-validity", "2", "-keystore", name + ".p12");
        keytool(dir, "-certreq", "-alias", name, "-keystore", name + ".p12", "-file", name + ".csr");
        List<String> gencert = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", "ca", "-keystore", "ca.p12",
                "-infile", name + ".csr", "-outfile", name + ".pem", "-validity", "2"));
        if (san != null) {
            gencert.addAll(List.of("-ext", san));
        }
        keytool(dir, gencert.toArray(String[]::new));
        writeKey(dir.resolve(name + ".p12"), name, dir.resolve(name + ".key"));
    }

    /** The private key as unencrypted PKCS#8 PEM, the form Vert.x's PemKeyCertOptions reads. */
    private static void writeKey(Path store, String alias, Path out) throws IOException {
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, PASS.toCharArray());
            Key key = ks.getKey(alias, PASS.toCharArray());
            String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                    .encodeToString(key.getEncoded());
            Files.writeString(out, "-----BEGIN PRIVATE KEY-----\n" + b64 + "\n-----END PRIVATE KEY-----\n");
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    private static void keytool(Path dir, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        command.addAll(List.of("-storepass", PASS, "-keypass", PASS, "-noprompt"));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException("keytool " + String.join(" ", args) + " failed: " + output);
        }
    }
}
