package dev.rlhf.k8s;

import static dev.rlhf.k8s.Sources.assertFlags;
import static dev.rlhf.k8s.Sources.assertNone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GRPCAction;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Every pod of every variant (and of the tools) follows the pod rules; each rule catches its own violation. */
class PodPolicyTest {

    static Stream<String> variantsAndTools() {
        return Stream.concat(Variants.names().stream(), Stream.of("tools"));
    }

    private static Rendered rendered(String name) {
        return name.equals("tools") ? Variants.tools() : Variants.get(name);
    }

    @ParameterizedTest
    @MethodSource("variantsAndTools")
    void everyPodIsRestrictedHardenedSizedAndPinned(String variant) {
        Rendered r = rendered(variant);
        List<String> problems = new ArrayList<>();
        assertFalse(r.workloads().isEmpty(), variant + " has no workloads");
        for (Workload w : r.workloads()) {
            problems.addAll(PodPolicies.restrictedSecurity(w));
            problems.addAll(PodPolicies.apiAndServiceLinksOff(w));
            problems.addAll(PodPolicies.resources(w));
            problems.addAll(PodPolicies.pinnedImages(w));
            problems.addAll(PodPolicies.writableScratch(w, Sources.imageEnvironment(w)));
        }
        assertNone(problems);
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void longRunningPodsHaveProbesDrainGracefullyAndTuneOpenMp(String variant) {
        Rendered r = Variants.get(variant);
        List<String> problems = new ArrayList<>();
        for (Workload w : r.workloads()) {
            problems.addAll(PodPolicies.probes(w));
            problems.addAll(PodPolicies.gracefulTermination(w, Sources.configByContainer(r, w)));
            problems.addAll(PodPolicies.modelRuntimeEnvironment(w));
        }
        assertNone(problems);
        assertEquals(5, r.workloads().stream().filter(Workload::longRunning).count(),
                "policy, two rewards, sampler, trainer");
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void gpusOnlyInTheGpuOverlayAndThereOnPolicyAndTrainer(String variant) {
        assertNone(PodPolicies.gpus(Variants.get(variant), Sources.CONFIG, variant.equals("gpu")));
    }

    @Test
    void aContainerThatMayEscalateOrWriteItsRootIsFlagged() {
        Workload w = Variants.get("base").copy().workload("policy");
        Container c = w.pod().getContainers().get(0);
        c.getSecurityContext().setAllowPrivilegeEscalation(null);
        c.getSecurityContext().setReadOnlyRootFilesystem(false);
        c.getSecurityContext().getCapabilities().setDrop(List.of());
        w.pod().getSecurityContext().setSeccompProfile(null);
        w.pod().getSecurityContext().setRunAsNonRoot(null);
        c.getSecurityContext().setRunAsNonRoot(null);
        List<String> problems = PodPolicies.restrictedSecurity(w);
        assertFlags(problems, "allowPrivilegeEscalation");
        assertFlags(problems, "root filesystem is writable");
        assertFlags(problems, "capabilities are not all dropped");
        assertFlags(problems, "seccomp");
        assertFlags(problems, "runAsNonRoot");
    }

    @Test
    void serviceLinksAndTheApiTokenAreFlagged() {
        Workload w = Variants.get("base").copy().workload("sampler");
        w.pod().setEnableServiceLinks(null);
        w.pod().setAutomountServiceAccountToken(true);
        List<String> problems = PodPolicies.apiAndServiceLinksOff(w);
        assertFlags(problems, "enableServiceLinks");
        assertFlags(problems, "automountServiceAccountToken");
    }

    @Test
    void missingLimitsAndRequestsAboveLimitsAreFlagged() {
        Workload w = Variants.get("base").copy().workload("trainer");
        Container c = w.pod().getContainers().get(0);
        c.getResources().getLimits().remove("memory");
        c.getResources().getRequests().put("cpu", new Quantity("64"));
        List<String> problems = PodPolicies.resources(w);
        assertFlags(problems, "memory limit missing");
        assertFlags(problems, "cpu request 64 exceeds limit");
    }

    @Test
    void aMissingProbeAProbeOnTheWrongPortAndAShortStartupAreFlagged() {
        Rendered r = Variants.get("base").copy();
        Workload policy = r.workload("policy");
        Container c = policy.pod().getContainers().get(0);
        c.setLivenessProbe(null);
        c.getReadinessProbe().setGrpc(new GRPCAction(9464, null));
        c.getStartupProbe().setFailureThreshold(3);
        List<String> problems = PodPolicies.probes(policy);
        assertFlags(problems, "livenessProbe: missing");
        assertFlags(problems, "readinessProbe: probes port 9464, not the container port named health, or else grpc");
        assertFlags(problems, "gives the model 30 s to load");

        Workload sampler = r.workload("sampler");
        sampler.pod().getContainers().get(0).getReadinessProbe().getHttpGet().setPath("/metrics");
        assertFlags(PodPolicies.probes(sampler), "readinessProbe: not GET /healthz");
    }

    @Test
    void aGracePeriodShorterThanTheDrainIsFlagged() {
        Rendered r = Variants.get("base").copy();
        Workload reward = r.workload("reward-safety");
        reward.pod().setTerminationGracePeriodSeconds(30L);
        assertFlags(PodPolicies.gracefulTermination(reward, Sources.configByContainer(r, reward)),
                "terminationGracePeriodSeconds 30 < preStop 5 s + reward.shutdown-grace 30 s");
        reward.pod().getContainers().get(0).setLifecycle(null);
        assertFlags(PodPolicies.gracefulTermination(reward, Sources.configByContainer(r, reward)), "no preStop");
    }

    @Test
    void unpinnedImagesAreFlagged() {
        assertTrue(PodPolicies.pinned("rlhf/policy:0.1.0"));
        assertTrue(PodPolicies.pinned("registry:5000/rlhf/policy@sha256:" + "a".repeat(64)));
        assertFalse(PodPolicies.pinned("rlhf/policy"));
        assertFalse(PodPolicies.pinned("rlhf/policy:latest"));
        assertFalse(PodPolicies.pinned("registry:5000/rlhf/policy"));
        Workload w = Variants.get("base").copy().workload("policy");
        w.pod().getContainers().get(0).setImage("rlhf/policy:latest");
        assertFlags(PodPolicies.pinnedImages(w), "is not pinned");
    }

    @Test
    void aDjlCacheOnTheReadOnlyRootIsFlagged() {
        Workload w = Variants.get("base").copy().workload("policy");
        w.pod().getContainers().get(0).getVolumeMounts().removeIf(m -> m.getMountPath().equals("/var/cache/djl"));
        assertFlags(PodPolicies.writableScratch(w, Sources.imageEnvironment(w)),
                "/var/cache/djl is not on a writable emptyDir volume");
    }

    @Test
    void spinningOpenMpOrAThreadPoolSizedByTheNodeIsFlagged() {
        Workload w = Variants.get("base").copy().workload("trainer");
        List<EnvVar> env = w.pod().getContainers().get(0).getEnv();
        env.removeIf(e -> e.getName().equals("OMP_NUM_THREADS"));
        env.stream().filter(e -> e.getName().equals("OMP_WAIT_POLICY")).forEach(e -> e.setValue("ACTIVE"));
        List<String> problems = PodPolicies.modelRuntimeEnvironment(w);
        assertFlags(problems, "OMP_WAIT_POLICY is not PASSIVE");
        assertFlags(problems, "OMP_NUM_THREADS");
    }

    @Test
    void gpuLimitsOutsideTheGpuOverlayAndMissingOnesInsideAreFlagged() {
        assertFlags(PodPolicies.gpus(Variants.get("gpu"), Sources.CONFIG, false), "has nvidia.com/gpu but should not");
        assertFlags(PodPolicies.gpus(Variants.get("local"), Sources.CONFIG, true), "no nvidia.com/gpu limit");
        Rendered gpu = Variants.get("gpu").copy();
        gpu.workload("trainer").pod().setTolerations(List.of());
        assertFlags(PodPolicies.gpus(gpu, Sources.CONFIG, true), "does not tolerate the nvidia.com/gpu taint");
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void everyEmptyDirIsCountedInEphemeralStorageRequests(String variant) {
        assertNone(PodPolicies.ephemeralStorage(Variants.get(variant)));
    }

    /** What kept GPU pods from scheduling on EKS, GKE and AKS: each is flagged again if it comes back. */
    @Test
    void gpuPodsThatCouldNotScheduleOrRollAreFlagged() {
        Rendered gpu = Variants.get("gpu").copy();
        Workload policy = gpu.workload("policy");
        policy.pod().setNodeSelector(new java.util.HashMap<>(java.util.Map.of("nvidia.com/gpu.present", "true")));
        policy.pod().getContainers().get(0).getResources().getRequests().put("memory",
                new io.fabric8.kubernetes.api.model.Quantity("32Gi"));
        gpu.all(io.fabric8.kubernetes.api.model.apps.Deployment.class).stream()
                .filter(d -> d.getMetadata().getName().equals("policy")).forEach(d -> d.getSpec().getStrategy()
                        .getRollingUpdate().setMaxSurge(new io.fabric8.kubernetes.api.model.IntOrString(1)));
        List<String> problems = PodPolicies.gpus(gpu, Sources.CONFIG, true);
        assertFlags(problems, "selects nvidia.com/gpu.present, which only GPU Feature Discovery sets");
        assertFlags(problems, "requests 32Gi of memory, a whole GPU node's size");
        assertFlags(problems, "maxSurge 1 needs a spare GPU for every rollout");
        gpu.workload("trainer").pod().getContainers().get(0).getResources().getRequests()
                .remove("ephemeral-storage");
        assertFlags(PodPolicies.ephemeralStorage(gpu), "of ephemeral-storage for emptyDirs");
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void modelServiceReplicasAreSpreadOverNodes(String variant) {
        assertNone(PodPolicies.spread(Variants.get(variant)));
    }

    @Test
    void unspreadReplicasAreFlagged() {
        Rendered r = Variants.get("base").copy();
        r.workload("policy").pod().setTopologySpreadConstraints(List.of());
        assertFlags(PodPolicies.spread(r), "Deployment policy: replicas are not spread over nodes");
        r.all(io.strimzi.api.kafka.model.nodepool.KafkaNodePool.class).get(0).getSpec().getTemplate().getPod()
                .setTopologySpreadConstraints(List.of());
        assertFlags(KafkaChecks.strimziPods(r), "brokers may share a node");
    }
}
