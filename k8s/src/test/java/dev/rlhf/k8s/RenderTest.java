package dev.rlhf.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every variant renders with the real Kustomize, parses strictly, and holds the whole system. */
class RenderTest {

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void eachVariantRendersTheWholeSystemInItsNamespace(String variant) {
        Rendered r = Variants.get(variant);
        assertEquals(List.of("Deployment policy", "Deployment reward-helpfulness", "Deployment reward-safety",
                "StatefulSet sampler", "StatefulSet trainer"), r.workloads().stream().map(Workload::id).sorted().toList());
        assertEquals(8, r.all(KafkaTopic.class).size());
        // One KafkaUser per Kafka client; the KEDA component brings its own.
        Set<String> users = new TreeSet<>(Set.of("sampler", "trainer", "policy", "reward", "prompt-producer"));
        if (variant.equals("base+keda")) {
            users.add("keda");
        }
        assertEquals(users, new TreeSet<>(r.all(KafkaUser.class).stream().map(u -> u.getMetadata().getName()).toList()));
        Set<String> namespaces = new TreeSet<>();
        for (Object o : r.objects()) {
            if (o instanceof HasMetadata h && !(o instanceof Namespace)) {
                namespaces.add(String.valueOf(h.getMetadata().getNamespace()));
            }
        }
        assertEquals(Set.of("rlhf"), namespaces, "every object in the rlhf namespace");
    }

    @Test
    void theToolsRunInTheSameNamespace() {
        for (Object o : Variants.tools().objects()) {
            assertEquals("rlhf", ((HasMetadata) o).getMetadata().getNamespace(), String.valueOf(o));
        }
    }

    @Test
    void onlyTheKedaVariantHasAScaledObjectAndOnlyTheGpuOverlayAnHpa() {
        assertEquals(1, Variants.get("base+keda").all(ScaledObject.class).size());
        assertEquals(1, Variants.get("gpu").all(HorizontalPodAutoscaler.class).size());
        for (String plain : List.of("base", "local")) {
            assertTrue(Variants.get(plain).all(ScaledObject.class).isEmpty(), plain);
        }
    }

    @Test
    void aKustomizationThatDoesNotRenderFailsTheBuildWithKustomizesReason(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("kustomization.yaml"), "resources:\n  - missing.yaml\n");
        AssertionError error = assertThrows(AssertionError.class, () -> Kustomize.render(dir));
        assertTrue(error.getMessage().contains("missing.yaml"), error.getMessage());
    }

    @Test
    void aMissingKubectlFailsWithInstructionsInsteadOfSkipping(@TempDir Path dir) {
        AssertionError error = assertThrows(AssertionError.class,
                () -> Kustomize.render(dir, "kubectl-that-is-not-installed"));
        assertTrue(error.getMessage().contains("apt-get install kubectl"), error.getMessage());
    }
}
