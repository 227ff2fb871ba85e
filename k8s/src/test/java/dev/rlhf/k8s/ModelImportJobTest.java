package dev.rlhf.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * tools/model-import.yaml (issue 17): it imports each start-up model to the very path the base's services and
 * trainer read it from, with the kind that service needs, writing the model store and only reading the source.
 */
class ModelImportJobTest {
    @Test
    void eachModelLandsWhereItsServiceReadsIt() {
        Job job = Variants.tools().all(Job.class).stream()
                .filter(j -> j.getMetadata().getName().equals("model-import")).findFirst().orElseThrow();
        assertEquals(0, job.getSpec().getBackoffLimit(), "a refused model fails the Job");
        PodSpec pod = job.getSpec().getTemplate().getSpec();
        List<Container> steps = new ArrayList<>(pod.getInitContainers());
        steps.addAll(pod.getContainers());

        // Where the base reads each model: the services' start-up checkpoints (their ConfigMaps).
        Map<String, String> read = new TreeMap<>();
        for (ConfigMap map : Variants.get("base").all(ConfigMap.class)) {
            Map<String, String> data = map.getData() == null ? Map.of() : map.getData();
            if (data.containsKey("RLHF_POLICY_CHECKPOINT")) {
                read.put(data.get("RLHF_POLICY_CHECKPOINT"), "policy");
            }
            if (data.containsKey("RLHF_REWARD_CHECKPOINT")) {
                read.put(data.get("RLHF_REWARD_CHECKPOINT"), "reward");
            }
        }
        assertEquals(3, read.size(), "the base reads a policy and two reward models: " + read);

        Map<String, String> written = new TreeMap<>();
        for (Container c : steps) {
            List<String> args = c.getArgs();
            assertEquals("import-model", args.get(0), c.getName());
            written.put(args.get(args.indexOf("--out") + 1), args.get(args.indexOf("--kind") + 1));
            String from = args.get(args.indexOf("--from") + 1);
            assertTrue(mount(c, "model-source").getReadOnly() && from.startsWith(mount(c, "model-source")
                    .getMountPath() + "/"), c.getName() + ": reads " + from + " from the read-only source");
            assertTrue(!Boolean.TRUE.equals(mount(c, "model-store").getReadOnly()), c.getName() + ": writes the store");
        }
        assertEquals(read, written, "each model imported to the path its service reads, as its kind");

        Volume source = pod.getVolumes().stream().filter(v -> v.getName().equals("model-source")).findFirst()
                .orElseThrow();
        assertTrue(source.getPersistentVolumeClaim().getReadOnly(), "the source claim is mounted read-only");
        Volume store = pod.getVolumes().stream().filter(v -> v.getName().equals("model-store")).findFirst()
                .orElseThrow();
        assertEquals("model-store", store.getPersistentVolumeClaim().getClaimName());
    }

    private static VolumeMount mount(Container c, String volume) {
        return c.getVolumeMounts().stream().filter(m -> m.getName().equals(volume)).findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " does not mount " + volume));
    }
}
