package dev.rlhf.k8s;

import static dev.rlhf.k8s.Sources.DOCKERFILE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Dockerfile builds what the manifests run, from pinned bases, as a non-root user, from what Maven collects. */
class ImageTest {
    private static final Map<String, String> MAIN_CLASSES = Map.of(
            "policy", "dev.rlhf.policy.PolicyMain",
            "reward", "dev.rlhf.reward.RewardMain",
            "sampler", "dev.rlhf.sampler.SamplerMain",
            "trainer", "dev.rlhf.trainer.TrainerMain",
            "tools", "dev.rlhf.launcher.RlhfCommand");

    @Test
    void everyImageTheManifestsRunHasATargetWithTheRightMainClass() {
        Set<String> images = Variants.imagesRun();
        assertTrue(images.size() >= 7, images.toString());
        for (String image : images) {
            String target = Sources.dockerTarget(image);
            Dockerfile.Stage stage = DOCKERFILE.stage(target);
            String program = target.replace("-gpu", "");
            assertTrue(stage.entrypoint() != null && stage.entrypoint().contains(MAIN_CLASSES.get(program)),
                    image + ": target " + target + " does not start " + MAIN_CLASSES.get(program));
            // The natives are inside the pytorch-native jar: DJL must never try to download them.
            assertTrue(stage.entrypoint().contains("-Dai.djl.offline=true"), target + ": " + stage.entrypoint());
            assertEquals("10001:10001", DOCKERFILE.user(target), target + " runs as the unprivileged user");
        }
    }

    @Test
    void baseImagesArePinnedToExactVersions() {
        for (String stage : DOCKERFILE.stages().keySet()) {
            String base = DOCKERFILE.baseImage(stage);
            // An exact version: digest, or a tag with at least major.minor.patch.
            assertTrue(base.contains("@sha256:") || base.matches("[^:]+:\\d+\\.\\d+\\.\\d+[._-].*"),
                    stage + " builds on " + base + ", which is not pinned to an exact version");
        }
        assertTrue(DOCKERFILE.baseImage("policy-gpu").startsWith("nvidia/cuda:12.4"),
                "DJL's pytorch-native-cu124 needs a CUDA 12.4 runtime");
    }

    @Test
    void serviceImagesCopyWhatTheImageProfileCollects() throws IOException {
        String rootPom = Files.readString(Variants.REPOSITORY.resolve("pom.xml"));
        Set<String> nativeArtifacts = new TreeSet<>();
        Matcher artifact = Pattern.compile("<pytorch\\.native\\.artifact>([^<]+)<").matcher(rootPom);
        while (artifact.find()) {
            nativeArtifacts.add(artifact.group(1));
        }
        assertEquals(Set.of("pytorch-native-cpu", "pytorch-native-cu124"), nativeArtifacts,
                "the CPU default and the -Pgpu profile of the root pom");
        Pattern copy = Pattern.compile("^([a-z-]+-service)/target/image-(pytorch-native-[a-z0-9]+)/lib/ /app/lib/$");
        int serviceCopies = 0;
        for (Dockerfile.Stage stage : DOCKERFILE.stages().values()) {
            for (String source : stage.copies()) {
                Matcher m = copy.matcher(source);
                if (!m.matches()) {
                    continue;
                }
                serviceCopies++;
                assertTrue(nativeArtifacts.contains(m.group(2)), source);
                String pom = Files.readString(Variants.REPOSITORY.resolve(m.group(1)).resolve("pom.xml"));
                assertTrue(pom.contains("<id>image</id>")
                                && pom.contains("${project.build.directory}/image-${pytorch.native.artifact}/lib"),
                        m.group(1) + "/pom.xml has no image profile writing " + source);
            }
        }
        assertEquals(6, serviceCopies, "four CPU and two CUDA service images");
    }

    @Test
    void theDjlCacheIsSetWhereThePodsMountAWritableVolume() {
        for (String target : MAIN_CLASSES.keySet()) {
            Map<String, String> env = DOCKERFILE.environment(target);
            assertEquals("/var/cache/djl", env.get("DJL_CACHE_DIR"), target);
            assertEquals("/var/cache/djl", env.get("ENGINE_CACHE_DIR"), target);
        }
        assertEquals("/var/cache/djl", DOCKERFILE.environment("trainer-gpu").get("DJL_CACHE_DIR"));
    }

    @Test
    void theIgnoreFileLetsThroughExactlyWhatTheDockerfileCopies() throws IOException {
        Path ignore = Variants.MODULE.resolve("images/Dockerfile.dockerignore");
        Set<String> allowed = new TreeSet<>();
        for (String line : Files.readAllLines(ignore)) {
            if (line.startsWith("!")) {
                allowed.add(line.substring(1));
            }
        }
        for (Dockerfile.Stage stage : DOCKERFILE.stages().values()) {
            for (String copy : stage.copies()) {
                if (copy.startsWith("--from=")) {
                    continue;
                }
                String source = copy.split(" ")[0];
                boolean covered = allowed.stream().anyMatch(a -> source.matches(a.replace(".", "\\.")
                        .replace("*", "[^/]*")));
                assertTrue(covered, "COPY " + source + " is excluded by " + ignore);
            }
        }
    }
}
