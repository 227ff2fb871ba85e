package dev.rlhf.k8s;

import static dev.rlhf.k8s.Sources.DOCKERFILE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OCI tarballs Jib builds in every package (target/jib-image.tar of each service module and of the launcher),
 * here on the local base of image-base: they are the images k8s/ runs, they start as the Dockerfile's targets do,
 * and each one runs its {@code --help} from its own layers in a chroot.
 */
class ImageTarballTest {
    /** Image name to the module that builds it. */
    private static final Map<String, String> MODULES = new TreeMap<>(Map.of(
            "policy", "policy-service", "reward", "reward-service", "sampler", "sampler-service",
            "trainer", "trainer-service", "tools", "launcher"));
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;

    /** An image as its tarball describes it: the reference, the config, its layer files in order. */
    record Image(String name, Path tarball, String reference, JsonNode config, List<Path> layers) {
        List<String> entrypoint() {
            List<String> args = new ArrayList<>();
            config.path("config").path("Entrypoint").forEach(a -> args.add(a.asText()));
            return args;
        }

        Map<String, String> env() {
            Map<String, String> env = new LinkedHashMap<>();
            config.path("config").path("Env").forEach(e -> {
                String[] kv = e.asText().split("=", 2);
                env.put(kv[0], kv[1]);
            });
            return env;
        }
    }

    private static final Map<String, Image> IMAGES = new TreeMap<>();

    @BeforeAll
    static void open() throws Exception {
        Assumptions.assumeFalse(Boolean.getBoolean("images.skip"), () -> {
            System.out.println("ImageTarballTest: skipped, the build ran with -Dimages.skip=true (no images built)");
            return "images.skip";
        });
        for (Map.Entry<String, String> e : MODULES.entrySet()) {
            Path tarball = Variants.REPOSITORY.resolve(e.getValue()).resolve("target/jib-image.tar");
            if (!Files.isRegularFile(tarball)) {
                fail(tarball + " is missing: the package phase builds it (./mvnw verify; not with -Dimages.skip=true)");
            }
            Path dir = Files.createDirectories(tmp.resolve(e.getKey()));
            run(List.of("tar", "-xf", tarball.toString(), "-C", dir.toString()), Map.of(), 120);
            JsonNode index = JSON.readTree(dir.resolve("index.json").toFile());
            JsonNode descriptor = index.path("manifests").get(0);
            JsonNode manifest = JSON.readTree(blob(dir, descriptor.path("digest").asText()).toFile());
            JsonNode config = JSON.readTree(blob(dir, manifest.path("config").path("digest").asText()).toFile());
            List<Path> layers = new ArrayList<>();
            manifest.path("layers").forEach(l -> layers.add(blob(dir, l.path("digest").asText())));
            IMAGES.put(e.getKey(), new Image(e.getKey(), tarball,
                    descriptor.path("annotations").path("org.opencontainers.image.ref.name").asText(), config, layers));
        }
    }

    private static Path blob(Path dir, String digest) {
        return dir.resolve("blobs/sha256").resolve(digest.substring("sha256:".length()));
    }

    @Test
    void theTarballsAreExactlyTheImagesK8sRuns() {
        Set<String> run = Variants.imagesRun();
        // The CUDA images (0.1.0-cu124) are built on a base with CUDA and a JRE, which no registry here serves.
        run.removeIf(image -> image.matches(".*-cu\\d+$"));
        Set<String> built = IMAGES.values().stream().map(Image::reference).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(run, built);
    }

    @Test
    void eachImageStartsAsItsDockerfileTargetDoesAsTheUnprivilegedUser() throws Exception {
        for (Image image : IMAGES.values()) {
            String main = DOCKERFILE.stage(image.name()).entrypoint();
            List<String> docker = Arrays.stream(main.replaceAll("[\\[\\]\"]", "").split(",\\s*")).toList();
            List<String> jib = image.entrypoint();
            assertEquals("java", jib.get(0), image.name());
            assertEquals(flags(docker), flags(jib), image.name() + ": the JVM flags of the Dockerfile's target");
            assertEquals(docker.get(docker.size() - 1), jib.get(jib.size() - 1), image.name() + ": main class");
            assertEquals("10001:10001", image.config().path("config").path("User").asText(), image.name());

            Map<String, String> env = image.env();
            for (Map.Entry<String, String> e : DOCKERFILE.environment(image.name()).entrySet()) {
                assertEquals(e.getValue(), env.get(e.getKey()), image.name() + ": " + e.getKey());
            }
            assertEquals(DOCKERFILE.environment(image.name()).containsKey("MKL_CBWR"), env.containsKey("MKL_CBWR"),
                    image.name() + ": MKL_CBWR only where the Dockerfile sets it (not for training)");

            String module = MODULES.get(image.name());
            Set<String> files = files(image);
            assertTrue(files.stream().anyMatch(f -> f.matches("app/classpath/" + module + "-[^/]+\\.jar")),
                    image.name() + ": the module's jar in the image: " + files.stream()
                            .filter(f -> f.startsWith("app/classpath")).toList());
            assertTrue(files.contains("app/jib-classpath-file"), image.name());
            assertTrue(files.contains("opt/java/openjdk/bin/java"), image.name() + ": the base's JRE");
        }
    }

    @Test
    void eachImageRunsItsHelpFromItsOwnLayersInAChroot() throws Exception {
        assumeChroot();
        for (Image image : IMAGES.values()) {
            Path root = unpack(image);
            Result r = inChroot(image, root, List.of("--help"), false);
            assertEquals(0, r.code(), image.name() + ": " + r.output());
            String expected = image.name().equals("tools") ? "Usage: rlhf" : "usage: " + image.name();
            assertTrue(r.output().startsWith(expected) || r.output().contains("\n" + expected),
                    image.name() + ": " + r.output());
            run(List.of("rm", "-rf", root.toString()), Map.of(), 60);
        }
    }

    /**
     * The tools image creates a model and runs it: libtorch, extracted from its jar into the DJL cache (a
     * tmpfs here, an emptyDir in the pods), loads against the base's libraries.
     */
    @Test
    void theToolsImageLoadsLibtorchAndGenerates() throws Exception {
        assumeChroot();
        Image tools = IMAGES.get("tools");
        Path root = unpack(tools);
        try {
            Result init = inChroot(tools, root, List.of("init-model", "--config", "tiny", "--out", "/tmp/model"),
                    true);
            assertEquals(0, init.code(), init.output());
            Result logits = inChroot(tools, root, List.of("logits", "--model", "/tmp/model", "--ids", "1"), true);
            assertEquals(0, logits.code(), logits.output());
            assertFalse(logits.output().contains("UnsatisfiedLinkError"), logits.output());
        } finally {
            run(List.of("rm", "-rf", root.toString()), Map.of(), 60);
        }
    }

    private static void assumeChroot() {
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean tools = Files.isExecutable(Path.of("/usr/sbin/chroot")) && Files.isExecutable(Path.of("/usr/bin/unshare"));
        if (!root || !tools) {
            System.out.println("ImageTarballTest: the chroot runs were skipped: they need root and "
                    + "/usr/sbin/chroot and /usr/bin/unshare (user " + System.getProperty("user.name") + ")");
        }
        Assumptions.assumeTrue(root && tools, "needs root, chroot and unshare");
    }

    /** The image's filesystem: its layers extracted in order, as a container runtime does. */
    private static Path unpack(Image image) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root-" + image.name()));
        for (Path layer : image.layers()) {
            run(List.of("tar", "--warning=no-unknown-keyword", "-xzf", layer.toString(), "-C", root.toString()),
                    Map.of(), 120);
        }
        Files.createDirectories(root.resolve("proc"));
        return root;
    }

    record Result(int code, String output) {}

    /**
     * The image's entry point with {@code args}, in its environment, as user 10001, with /proc mounted in a private
     * mount namespace (so nothing outlives the process), and with a tmpfs as DJL's cache when {@code djlCache}.
     */
    private static Result inChroot(Image image, Path root, List<String> args, boolean djlCache) throws Exception {
        String mounts = "mount -t proc proc \"$ROOT/proc\""
                + (djlCache ? " && mkdir -p \"$ROOT/var/cache/djl\" && mount -t tmpfs -o mode=1777 tmpfs "
                + "\"$ROOT/var/cache/djl\"" : "");
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/unshare", "--mount", "--propagation", "private",
                "--pid", "--fork", "/bin/sh", "-c", mounts + " && exec /usr/sbin/chroot --userspec=10001:10001 "
                        + "\"$ROOT\" \"$@\"", "sh"));
        cmd.addAll(image.entrypoint());
        cmd.addAll(args);
        Map<String, String> env = new LinkedHashMap<>(image.env());
        env.put("ROOT", root.toString());
        return run(cmd, env, 300);
    }

    private static Result run(List<String> cmd, Map<String, String> env, int seconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (!env.isEmpty()) {
            pb.environment().clear();
            pb.environment().putAll(env);
        }
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(cmd + " did not finish in " + seconds + " s");
        }
        Result r = new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        if (r.code() != 0 && cmd.get(0).equals("tar")) {
            fail(cmd + ": " + r.output());
        }
        return r;
    }

    /** The JVM flags of an entry point: what comes between {@code java} and {@code -cp}. */
    private static List<String> flags(List<String> entrypoint) {
        return entrypoint.subList(1, entrypoint.indexOf("-cp"));
    }

    /** Every path in the image's layers. */
    private static Set<String> files(Image image) {
        Set<String> files = new TreeSet<>();
        for (Path layer : image.layers()) {
            try {
                Result r = run(List.of("tar", "--warning=no-unknown-keyword", "-tzf", layer.toString()), Map.of(), 120);
                r.output().lines().map(l -> l.startsWith("./") ? l.substring(2) : l).forEach(files::add);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        return files;
    }
}
