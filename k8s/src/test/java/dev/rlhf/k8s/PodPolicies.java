package dev.rlhf.k8s;

import static dev.rlhf.k8s.Workload.Containers.APP_ONLY;
import static dev.rlhf.k8s.Workload.Containers.WITH_INIT;

import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.SeccompProfile;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Rules every pod must follow, each a function from a workload to the violations it finds (empty = fine), so tests
 * can run them on objects broken on purpose.
 */
final class PodPolicies {
    /** Programs that load a model at start-up: they need time, native memory and a writable DJL cache. */
    static final Set<String> MODEL_PROGRAMS = Set.of("policy", "reward", "trainer");
    /** Programs serving gRPC, probed through grpc.health.v1. */
    static final Set<String> GRPC_PROGRAMS = Set.of("policy", "reward");
    /** Programs without gRPC, probed at GET /healthz on the metrics port. */
    static final Set<String> HTTP_PROBED_PROGRAMS = Set.of("sampler", "trainer");
    /** Loading a real checkpoint from network storage takes minutes: the start-up probe must wait at least this. */
    static final int MIN_MODEL_STARTUP_SECONDS = 600;
    /** Seconds between SIGTERM's shutdown-grace running out and the kubelet's SIGKILL, for the JVM to close. */
    static final long SHUTDOWN_MARGIN_SECONDS = 10;
    static final String GPU = "nvidia.com/gpu";
    static final String GPU_PRESENT = "nvidia.com/gpu.present";
    /** Memory sizes of common GPU nodes, in GiB: a request equal to one is above what such a node allocates. */
    static final Set<Long> NODE_SIZES_GIB = Set.of(16L, 32L, 64L, 128L, 256L, 512L);

    private static long gib(Quantity q) {
        java.math.BigDecimal bytes = q.getNumericalAmount();
        java.math.BigDecimal g = bytes.divide(java.math.BigDecimal.valueOf(1L << 30));
        return g.stripTrailingZeros().scale() <= 0 ? g.longValueExact() : -1;
    }

    /**
     * Replicas of the model services are spread over nodes: a hostname topology spread constraint that selects the
     * workload's own pods. (The Kafka node pool's is in {@link KafkaChecks#strimziPods}.)
     */
    static List<String> spread(Rendered rendered) {
        List<String> problems = new ArrayList<>();
        for (Workload w : rendered.workloads()) {
            String program = w.labels().getOrDefault("app.kubernetes.io/name", "");
            if (!program.equals("policy") && !program.equals("reward")) {
                continue;
            }
            boolean spread = w.pod().getTopologySpreadConstraints().stream().anyMatch(t ->
                    "kubernetes.io/hostname".equals(t.getTopologyKey())
                            && Wiring.matches(t.getLabelSelector(), w.labels()));
            if (!spread) {
                problems.add(w.id() + ": replicas are not spread over nodes (no hostname topology spread "
                        + "constraint selecting its pods)");
            }
        }
        return problems;
    }

    /**
     * Every emptyDir a container mounts is counted in its {@code ephemeral-storage} request, so the scheduler puts
     * the pod where the disk is (DJL extracts libtorch into one: several GB for CUDA).
     */
    static List<String> ephemeralStorage(Rendered rendered) {
        List<String> problems = new ArrayList<>();
        for (Workload w : rendered.workloads()) {
            for (Container c : w.containers(WITH_INIT)) {
                java.math.BigDecimal needed = java.math.BigDecimal.ZERO;
                for (var mount : c.getVolumeMounts()) {
                    for (var v : w.pod().getVolumes()) {
                        if (v.getName().equals(mount.getName()) && v.getEmptyDir() != null
                                && v.getEmptyDir().getSizeLimit() != null) {
                            needed = needed.add(v.getEmptyDir().getSizeLimit().getNumericalAmount());
                        }
                    }
                }
                if (needed.signum() == 0) {
                    continue;
                }
                Quantity request = c.getResources() == null ? null
                        : c.getResources().getRequests().get("ephemeral-storage");
                if (request == null || request.getNumericalAmount().compareTo(needed) < 0) {
                    problems.add(w.where(c) + ": requests " + request + " of ephemeral-storage for emptyDirs of "
                            + needed.divide(java.math.BigDecimal.valueOf(1L << 20)) + " MiB");
                }
            }
        }
        return problems;
    }

    private PodPolicies() {
    }

    /** The restricted Pod Security Standard, plus a read-only root filesystem. */
    static List<String> restrictedSecurity(Workload w) {
        List<String> problems = new ArrayList<>();
        PodSecurityContext pod = Optional.ofNullable(w.pod().getSecurityContext()).orElse(new PodSecurityContext());
        if (Boolean.TRUE.equals(w.pod().getHostNetwork()) || Boolean.TRUE.equals(w.pod().getHostPID())
                || Boolean.TRUE.equals(w.pod().getHostIPC())) {
            problems.add(w.id() + ": shares a host namespace");
        }
        for (Volume volume : w.pod().getVolumes()) {
            if (volume.getHostPath() != null) {
                problems.add(w.id() + ": hostPath volume " + volume.getName());
            }
        }
        if (Long.valueOf(0).equals(pod.getRunAsUser())) {
            problems.add(w.id() + ": pod runs as user 0");
        }
        for (Container c : w.containers(WITH_INIT)) {
            problems.addAll(containerSecurity(w.where(c), c.getSecurityContext(), pod));
        }
        return problems;
    }

    /**
     * The restricted standard for one container, plus a read-only root; settings the container leaves unset come
     * from the pod's context, as in Kubernetes. Shared with Strimzi's templated containers (KafkaChecks).
     *
     * @param container the container's security context, or null
     * @param pod       the pod's security context, or null
     */
    static List<String> containerSecurity(String where, SecurityContext container, PodSecurityContext pod) {
        List<String> problems = new ArrayList<>();
        SecurityContext sc = Optional.ofNullable(container).orElse(new SecurityContext());
        PodSecurityContext inherited = Optional.ofNullable(pod).orElse(new PodSecurityContext());
        Boolean nonRoot = sc.getRunAsNonRoot() != null ? sc.getRunAsNonRoot() : inherited.getRunAsNonRoot();
        if (!Boolean.TRUE.equals(nonRoot)) {
            problems.add(where + ": runAsNonRoot is not true");
        }
        if (Long.valueOf(0).equals(sc.getRunAsUser())) {
            problems.add(where + ": runs as user 0");
        }
        SeccompProfile seccomp = sc.getSeccompProfile() != null ? sc.getSeccompProfile()
                : inherited.getSeccompProfile();
        if (seccomp == null || !Set.of("RuntimeDefault", "Localhost").contains(seccomp.getType())) {
            problems.add(where + ": seccomp profile is not RuntimeDefault");
        }
        if (!Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
            problems.add(where + ": allowPrivilegeEscalation is not false");
        }
        if (Boolean.TRUE.equals(sc.getPrivileged())) {
            problems.add(where + ": privileged");
        }
        Capabilities caps = Optional.ofNullable(sc.getCapabilities()).orElse(new Capabilities());
        if (!caps.getDrop().contains("ALL")) {
            problems.add(where + ": capabilities are not all dropped");
        }
        if (caps.getAdd().stream().anyMatch(cap -> !cap.equals("NET_BIND_SERVICE"))) {
            problems.add(where + ": adds capabilities " + caps.getAdd());
        }
        if (!Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem())) {
            problems.add(where + ": root filesystem is writable");
        }
        return problems;
    }

    /** No API token (no service calls Kubernetes) and no service links (they inject RLHF_*_SERVICE_* variables). */
    static List<String> apiAndServiceLinksOff(Workload w) {
        List<String> problems = new ArrayList<>();
        if (!Boolean.FALSE.equals(w.pod().getAutomountServiceAccountToken())) {
            problems.add(w.id() + ": automountServiceAccountToken is not false");
        }
        if (!Boolean.FALSE.equals(w.pod().getEnableServiceLinks())) {
            problems.add(w.id() + ": enableServiceLinks is not false (a Service named rlhf-policy would inject"
                    + " RLHF_POLICY_SERVICE_HOST, an unknown key that stops the policy service)");
        }
        return problems;
    }

    /** CPU and memory requests and limits on every container, requests within limits. */
    static List<String> resources(Workload w) {
        List<String> problems = new ArrayList<>();
        for (Container c : w.containers(WITH_INIT)) {
            problems.addAll(resources(w.where(c), c.getResources()));
        }
        return problems;
    }

    /** CPU and memory requests and limits of one container (null: none), requests within limits. */
    static List<String> resources(String where, ResourceRequirements resources) {
        if (resources == null) {
            return List.of(where + ": no resources");
        }
        List<String> problems = new ArrayList<>();
        for (String resource : List.of("cpu", "memory")) {
            Quantity request = resources.getRequests().get(resource);
            Quantity limit = resources.getLimits().get(resource);
            if (request == null || limit == null) {
                problems.add(where + ": " + resource + (request == null ? " request" : " limit") + " missing");
            } else if (request.getNumericalAmount().compareTo(limit.getNumericalAmount()) > 0) {
                problems.add(where + ": " + resource + " request " + request + " exceeds limit " + limit);
            }
        }
        return problems;
    }

    /**
     * Start-up, readiness and liveness probes on every long-running container: gRPC health on the port named grpc for
     * the gRPC services, GET /healthz on the metrics port for the others; model loaders get a long start-up probe.
     */
    static List<String> probes(Workload w) {
        List<String> problems = new ArrayList<>();
        if (!w.longRunning()) {
            return problems;
        }
        for (Container c : w.containers(APP_ONLY)) {
            String where = w.where(c);
            String program = Workload.program(c).orElse("");
            Map<String, Probe> probes = new LinkedHashMap<>();
            probes.put("startupProbe", c.getStartupProbe());
            probes.put("readinessProbe", c.getReadinessProbe());
            probes.put("livenessProbe", c.getLivenessProbe());
            for (Map.Entry<String, Probe> entry : probes.entrySet()) {
                Probe probe = entry.getValue();
                String what = where + " " + entry.getKey();
                if (probe == null) {
                    problems.add(what + ": missing");
                } else if (GRPC_PROGRAMS.contains(program)) {
                    // The gRPC port serves health; with TLS on it (components/grpc-tls), a plaintext port named
                    // health does, since Kubernetes' gRPC probes cannot speak TLS.
                    Optional<ContainerPort> grpc = Workload.port(c, "health").or(() -> Workload.port(c, "grpc"));
                    if (probe.getGrpc() == null) {
                        problems.add(what + ": not a grpc probe (the service serves grpc.health.v1)");
                    } else if (grpc.isEmpty() || !grpc.get().getContainerPort().equals(probe.getGrpc().getPort())) {
                        problems.add(what + ": probes port " + probe.getGrpc().getPort()
                                + ", not the container port named health, or else grpc");
                    }
                } else if (HTTP_PROBED_PROGRAMS.contains(program)) {
                    if (probe.getHttpGet() == null || !"/healthz".equals(probe.getHttpGet().getPath())) {
                        problems.add(what + ": not GET /healthz (the service has no gRPC server)");
                    } else if (!isPort(c, probe.getHttpGet().getPort(), "metrics")) {
                        problems.add(what + ": probes port " + probe.getHttpGet().getPort()
                                + ", not the container port named metrics");
                    }
                }
            }
            if (MODEL_PROGRAMS.contains(program) && c.getStartupProbe() != null) {
                Probe startup = c.getStartupProbe();
                int seconds = orDefault(startup.getPeriodSeconds(), 10) * orDefault(startup.getFailureThreshold(), 3);
                if (seconds < MIN_MODEL_STARTUP_SECONDS) {
                    problems.add(where + " startupProbe: gives the model " + seconds + " s to load, less than "
                            + MIN_MODEL_STARTUP_SECONDS);
                }
            }
        }
        return problems;
    }

    /**
     * gRPC servers drain before they go: a preStop pause so endpoint removal reaches the clients, then
     * {@code <service>.shutdown-grace} for calls in flight, all inside terminationGracePeriodSeconds.
     */
    static List<String> gracefulTermination(Workload w, Map<String, Map<String, String>> configByContainer) {
        List<String> problems = new ArrayList<>();
        if (!w.longRunning()) {
            return problems;
        }
        long grace = orDefault(w.pod().getTerminationGracePeriodSeconds(), 30L);
        if (w.pod().getTerminationGracePeriodSeconds() == null) {
            problems.add(w.id() + ": terminationGracePeriodSeconds not set");
        }
        for (ServiceContainer s : ServiceContainer.of(w, APP_ONLY, GRPC_PROGRAMS::contains)) {
            Container c = s.container();
            String program = s.program();
            String where = s.where();
            long pause = 0;
            if (c.getLifecycle() == null || c.getLifecycle().getPreStop() == null) {
                problems.add(where + ": no preStop pause, so clients keep sending to a draining server");
            } else if (c.getLifecycle().getPreStop().getSleep() != null) {
                pause = c.getLifecycle().getPreStop().getSleep().getSeconds();
            }
            String shutdown = configByContainer.getOrDefault(c.getName(), Map.of()).get(program + ".shutdown-grace");
            long drain = shutdown == null ? 0 : ServiceConfig.duration(shutdown).toSeconds();
            if (grace < pause + drain + SHUTDOWN_MARGIN_SECONDS) {
                problems.add(where + ": terminationGracePeriodSeconds " + grace + " < preStop " + pause
                        + " s + " + program + ".shutdown-grace " + drain + " s + " + SHUTDOWN_MARGIN_SECONDS + " s");
            }
        }
        return problems;
    }

    /** Image references carry a version: a tag other than latest, or a digest. */
    static List<String> pinnedImages(Workload w) {
        List<String> problems = new ArrayList<>();
        for (Container c : w.containers(WITH_INIT)) {
            if (!pinned(c.getImage())) {
                problems.add(w.where(c) + ": image " + c.getImage() + " is not pinned");
            }
        }
        return problems;
    }

    static boolean pinned(String image) {
        if (image == null || image.isBlank()) {
            return false;
        }
        if (image.contains("@sha256:")) {
            return true;
        }
        int slash = image.lastIndexOf('/');
        int colon = image.lastIndexOf(':');
        if (colon < slash || colon < 0) {
            return false;
        }
        String tag = image.substring(colon + 1);
        return !tag.isEmpty() && !tag.equals("latest") && tag.matches(".*\\d.*");
    }

    /**
     * With a read-only root, the JVM needs a writable /tmp, and DJL needs its cache directories (the image's
     * DJL_CACHE_DIR and ENGINE_CACHE_DIR unless the pod overrides them) on a writable emptyDir.
     */
    static List<String> writableScratch(Workload w, Map<String, String> imageEnvironment) {
        List<String> problems = new ArrayList<>();
        for (Container c : w.containers(APP_ONLY)) {
            String where = w.where(c);
            List<String> needed = new ArrayList<>(List.of("/tmp"));
            if (MODEL_PROGRAMS.contains(Workload.program(c).orElse(""))) {
                for (String var : List.of("DJL_CACHE_DIR", "ENGINE_CACHE_DIR")) {
                    // The pod's entry wins over the image's; one without a plain value (valueFrom) can't be checked.
                    Optional<EnvVar> inPod = Workload.env(c, var);
                    String dir = inPod.isPresent() ? inPod.get().getValue() : imageEnvironment.get(var);
                    if (dir == null) {
                        problems.add(where + ": " + var + (inPod.isPresent() ? " has no plain value in the pod"
                                : " is set neither in the image nor in the pod"));
                    } else {
                        needed.add(dir);
                    }
                }
            }
            for (String dir : needed) {
                Optional<Workload.MountedVolume> on = w.volumeAt(c, dir);
                if (on.isEmpty() || on.get().volume().getEmptyDir() == null
                        || Boolean.TRUE.equals(on.get().mount().getReadOnly())) {
                    problems.add(where + ": " + dir + " is not on a writable emptyDir volume");
                }
            }
        }
        return problems;
    }

    /**
     * libtorch's OpenMP pool: passive waiting (spinning workers starve the JVM thread on shared nodes), and as many
     * threads as the CPU limit instead of the node's core count.
     */
    static List<String> modelRuntimeEnvironment(Workload w) {
        List<String> problems = new ArrayList<>();
        for (ServiceContainer s : ServiceContainer.of(w, APP_ONLY, MODEL_PROGRAMS::contains)) {
            Container c = s.container();
            String where = s.where();
            Optional<EnvVar> wait = Workload.env(c, "OMP_WAIT_POLICY");
            if (wait.isEmpty() || !"PASSIVE".equals(wait.get().getValue())) {
                problems.add(where + ": OMP_WAIT_POLICY is not PASSIVE");
            }
            Optional<EnvVar> threads = Workload.env(c, "OMP_NUM_THREADS");
            boolean fromLimit = threads.isPresent() && threads.get().getValueFrom() != null
                    && threads.get().getValueFrom().getResourceFieldRef() != null
                    && "limits.cpu".equals(threads.get().getValueFrom().getResourceFieldRef().getResource())
                    && c.getName().equals(threads.get().getValueFrom().getResourceFieldRef().getContainerName());
            if (!fromLimit) {
                problems.add(where + ": OMP_NUM_THREADS does not come from this container's limits.cpu");
            }
        }
        return problems;
    }

    /**
     * GPUs exactly where expected: with {@code expected}, on the policy and trainer only, requested and limited
     * alike, on GPU nodes (node selector and toleration), and the service told to use it; without, nowhere.
     */
    static List<String> gpus(Rendered rendered, ConfigDoc docs, boolean expected) {
        List<String> problems = new ArrayList<>();
        Set<String> gpuPrograms = Set.of("policy", "trainer");
        for (Workload w : rendered.workloads()) {
            for (Container c : w.containers(WITH_INIT)) {
                String program = Workload.program(c).orElse("");
                String where = w.where(c);
                Quantity limit = c.getResources() == null ? null : c.getResources().getLimits().get(GPU);
                Quantity request = c.getResources() == null ? null : c.getResources().getRequests().get(GPU);
                boolean wanted = expected && gpuPrograms.contains(program);
                if (!wanted) {
                    if (limit != null || request != null) {
                        problems.add(where + ": has " + GPU + " but should not in " + rendered.variant());
                    }
                    continue;
                }
                if (limit == null || limit.getNumericalAmount().signum() <= 0) {
                    problems.add(where + ": no " + GPU + " limit");
                } else if (!limit.equals(request)) {
                    problems.add(where + ": " + GPU + " request " + request + " differs from limit " + limit);
                }
                if (w.pod().getNodeSelector() != null && w.pod().getNodeSelector().containsKey(GPU_PRESENT)) {
                    // Only GPU Feature Discovery sets it; the GPU request alone already places the pod.
                    problems.add(where + ": selects " + GPU_PRESENT + ", which only GPU Feature Discovery sets");
                }
                Quantity memory = c.getResources().getRequests().get("memory");
                if (memory != null && NODE_SIZES_GIB.contains(gib(memory))) {
                    problems.add(where + ": requests " + memory + " of memory, a whole GPU node's size: the node "
                            + "can allocate less, so the pod never schedules");
                }
                if (w.kind().equals("Deployment")) {
                    for (var d : rendered.all(io.fabric8.kubernetes.api.model.apps.Deployment.class)) {
                        var ru = d.getMetadata().getName().equals(w.name()) && d.getSpec().getStrategy() != null
                                ? d.getSpec().getStrategy().getRollingUpdate() : null;
                        if (ru != null && ru.getMaxSurge() != null && !Integer.valueOf(0).equals(
                                ru.getMaxSurge().getIntVal())) {
                            problems.add(where + ": maxSurge " + ru.getMaxSurge().getIntVal() + " needs a spare GPU "
                                    + "for every rollout");
                        }
                    }
                }
                if (w.pod().getTolerations().stream().noneMatch(t -> GPU.equals(t.getKey()))) {
                    problems.add(where + ": does not tolerate the " + GPU + " taint");
                }
                String device = ServiceConfig.effective(rendered, docs, w, c).get(program + ".device");
                if (!"gpu".equals(device)) {
                    problems.add(where + ": has a GPU but " + program + ".device is " + device);
                }
            }
        }
        return problems;
    }

    private static boolean isPort(Container c, IntOrString port, String name) {
        if (port == null) {
            return false;
        }
        if (port.getStrVal() != null) {
            return port.getStrVal().equals(name);
        }
        return Workload.port(c, name).map(p -> Objects.equals(p.getContainerPort(), port.getIntVal())).orElse(false);
    }

    private static <T> T orDefault(T value, T fallback) {
        return value == null ? fallback : value;
    }
}
