package dev.rlhf.k8s;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Anything that runs pods, seen through its pod template.
 *
 * @param labels    the pod template's labels (what Services, policies and budgets select)
 * @param longRunning Deployments and StatefulSets; Jobs and bare Pods are one-off tools
 */
record Workload(String kind, String name, Integer replicas, Map<String, String> labels, PodSpec pod,
                boolean longRunning) {

    static Optional<Workload> of(Object object) {
        if (object instanceof Deployment d) {
            return Optional.of(new Workload("Deployment", name(d), d.getSpec().getReplicas(),
                    labels(d.getSpec().getTemplate().getMetadata().getLabels()), d.getSpec().getTemplate().getSpec(),
                    true));
        }
        if (object instanceof StatefulSet s) {
            return Optional.of(new Workload("StatefulSet", name(s), s.getSpec().getReplicas(),
                    labels(s.getSpec().getTemplate().getMetadata().getLabels()), s.getSpec().getTemplate().getSpec(),
                    true));
        }
        if (object instanceof Job j) {
            return Optional.of(new Workload("Job", name(j), null,
                    labels(j.getSpec().getTemplate().getMetadata().getLabels()), j.getSpec().getTemplate().getSpec(),
                    false));
        }
        if (object instanceof Pod p) {
            return Optional.of(new Workload("Pod", name(p), null, labels(p.getMetadata().getLabels()), p.getSpec(),
                    false));
        }
        return Optional.empty();
    }

    String id() {
        return kind + " " + name;
    }

    /** Which containers of the pod a check covers; each check says so explicitly. */
    enum Containers {
        /** spec.containers only: what serves, is probed and drains. */
        APP_ONLY,
        /** Init containers first, then spec.containers: what must be secure, sized, pinned and configured. */
        WITH_INIT
    }

    List<Container> containers(Containers which) {
        if (which == Containers.APP_ONLY) {
            return pod.getContainers();
        }
        List<Container> all = new ArrayList<>(pod.getInitContainers());
        all.addAll(pod.getContainers());
        return all;
    }

    /** How problems name a container: {@code Deployment policy container policy}. */
    String where(Container container) {
        return id() + " container " + container.getName();
    }

    /**
     * The volume a container sees at a path, with the mount: the deepest mount whose path contains it (as the
     * kubelet resolves nested mounts), and the pod volume of that mount's name; empty if either is missing.
     */
    Optional<MountedVolume> volumeAt(Container container, String path) {
        return container.getVolumeMounts().stream()
                .filter(m -> Path.of(path).startsWith(Path.of(m.getMountPath())))
                .max(java.util.Comparator.comparingInt(m -> Path.of(m.getMountPath()).getNameCount()))
                .flatMap(m -> pod.getVolumes().stream().filter(v -> v.getName().equals(m.getName())).findFirst()
                        .map(v -> new MountedVolume(m, v)));
    }

    record MountedVolume(VolumeMount mount, Volume volume) {
    }

    /**
     * Which of our programs a container runs, from its image {@code rlhf/<program>[:tag]}: policy, reward, sampler,
     * trainer or tools; empty for a foreign image.
     */
    static Optional<String> program(Container container) {
        return program(container.getImage() == null ? "" : container.getImage());
    }

    /** The program of an image reference, as {@link #program(Container)}. */
    static Optional<String> program(String image) {
        String repository = image.split("@", 2)[0];
        int colon = repository.lastIndexOf(':');
        if (colon > repository.lastIndexOf('/')) {
            repository = repository.substring(0, colon);
        }
        int slash = repository.lastIndexOf('/');
        if (slash < 0 || !repository.substring(0, slash).endsWith("rlhf")) {
            return Optional.empty();
        }
        return Optional.of(repository.substring(slash + 1));
    }

    /** The port a container declares under this name. */
    static Optional<ContainerPort> port(Container container, String name) {
        return container.getPorts().stream().filter(p -> name.equals(p.getName())).findFirst();
    }

    /** The {@code env} entry of a container with this name, the last one if repeated, as Kubernetes applies them. */
    static Optional<EnvVar> env(Container container, String name) {
        return container.getEnv().stream().filter(e -> e.getName().equals(name)).reduce((first, last) -> last);
    }

    private static String name(HasMetadata object) {
        return object.getMetadata().getName();
    }

    private static Map<String, String> labels(Map<String, String> labels) {
        return labels == null ? Map.of() : labels;
    }
}
