package dev.rlhf.k8s;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.List;
import java.util.Optional;

/** The objects of one rendered variant (an overlay, or the tools), parsed strictly. */
final class Rendered {
    private final String variant;
    private final String yaml;
    private final List<Object> objects;

    Rendered(String variant, String yaml) {
        this.variant = variant;
        this.yaml = yaml;
        this.objects = ManifestParser.parse(yaml, variant);
    }

    String variant() {
        return variant;
    }

    /** A fresh copy, for tests that break an object on purpose. */
    Rendered copy() {
        return new Rendered(variant, yaml);
    }

    List<Object> objects() {
        return objects;
    }

    <T> List<T> all(Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends HasMetadata> Optional<T> named(Class<T> type, String name) {
        return all(type).stream().filter(o -> name.equals(o.getMetadata().getName())).findFirst();
    }

    <T extends HasMetadata> T required(Class<T> type, String name) {
        return named(type, name).orElseThrow(() -> new AssertionError(
                variant + ": no " + type.getSimpleName() + " named " + name));
    }

    List<Workload> workloads() {
        return objects.stream().map(Workload::of).flatMap(Optional::stream).toList();
    }

    Workload workload(String name) {
        return workloads().stream().filter(w -> w.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(variant + ": no workload named " + name));
    }

    @Override
    public String toString() {
        return variant;
    }
}
