package dev.rlhf.k8s;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Renders a kustomization with the real Kustomize of {@code kubectl kustomize} (what {@code kubectl apply -k} runs). */
final class Kustomize {
    private static final long TIMEOUT_SECONDS = 120;

    private Kustomize() {
    }

    /**
     * @throws AssertionError naming the cause when kubectl is missing or Kustomize refuses the kustomization: a
     *                        deployment that cannot be rendered must fail the build, never be skipped
     */
    static String render(Path kustomizationDir) {
        return render(kustomizationDir, "kubectl");
    }

    /** @param kubectl the executable, replaceable so a test can show what happens when it is missing */
    static String render(Path kustomizationDir, String kubectl) {
        Path out;
        Path err;
        try {
            out = Files.createTempFile("kustomize", ".yaml");
            err = Files.createTempFile("kustomize", ".err");
        } catch (IOException e) {
            throw new AssertionError("cannot create temporary files: " + e, e);
        }
        try {
            Process process;
            try {
                // Output goes to files: a pipe that nobody drains could fill up and block kubectl.
                process = new ProcessBuilder(List.of(kubectl, "kustomize", kustomizationDir.toString()))
                        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            } catch (IOException e) {
                throw new AssertionError("kubectl is not installed, so the Kustomize overlays cannot be rendered and"
                        + " checked; install it (Debian: apt-get install kubectl; .ci/run does) and rerun", e);
            }
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("kubectl kustomize " + kustomizationDir + " took over " + TIMEOUT_SECONDS + " s");
            }
            if (process.exitValue() != 0) {
                throw new AssertionError("kubectl kustomize " + kustomizationDir + " failed (exit " + process.exitValue()
                        + "): " + Files.readString(err, StandardCharsets.UTF_8).strip());
            }
            return Files.readString(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError("cannot read the output of kubectl kustomize: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while rendering " + kustomizationDir, e);
        } finally {
            try {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            } catch (IOException ignored) {
                // temporary files only
            }
        }
    }
}
