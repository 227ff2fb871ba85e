package dev.rlhf.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;

/** {@code rlhf --version}: the version this build was made as, with the engine it bundles and the JVM it runs on. */
final class BuildVersion implements CommandLine.IVersionProvider {
    static final String RESOURCE = "build.properties";

    @Override
    public String[] getVersion() {
        Properties build = properties();
        return new String[] {
            "rlhf " + build.getProperty("version"),
            "DJL " + build.getProperty("djl") + ", libtorch " + build.getProperty("libtorch"),
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")"
        };
    }

    static Properties properties() {
        try (InputStream in = BuildVersion.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the launcher's classes: rebuild it");
            }
            Properties p = new Properties();
            p.load(in);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
