package dev.rlhf.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What configuration a container of one of our services gets, the way the service would read it. */
final class ServiceConfig {
    private ServiceConfig() {
    }

    /**
     * The container's environment: ConfigMaps of {@code envFrom} first, then {@code env}, which wins, as in Kubernetes.
     * A value from {@code valueFrom.fieldRef} reads {@code $(fieldPath)}.
     *
     * @param problems receives references to ConfigMaps the render lacks (the pod would not start)
     */
    static Map<String, String> environment(Rendered rendered, Workload workload, Container container,
                                           List<String> problems) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvFromSource source : container.getEnvFrom()) {
            if (source.getConfigMapRef() == null) {
                problems.add(workload.id() + ": envFrom other than a ConfigMap (" + source + ")");
                continue;
            }
            String name = source.getConfigMapRef().getName();
            Optional<ConfigMap> map = rendered.named(ConfigMap.class, name);
            if (map.isEmpty()) {
                problems.add(workload.id() + ": envFrom ConfigMap " + name + " is not part of the deployment");
                continue;
            }
            String prefix = source.getPrefix() == null ? "" : source.getPrefix();
            map.get().getData().forEach((key, value) -> env.put(prefix + key, value));
        }
        for (EnvVar var : container.getEnv()) {
            if (var.getValueFrom() != null && var.getValueFrom().getFieldRef() != null) {
                env.put(var.getName(), "$(" + var.getValueFrom().getFieldRef().getFieldPath() + ")");
            } else if (var.getValueFrom() != null) {
                env.put(var.getName(), "$(valueFrom)");
            } else {
                env.put(var.getName(), var.getValue() == null ? "" : var.getValue());
            }
        }
        return env;
    }

    /** Every key of the service by its dotted name, with the value it would run with (documented default if unset). */
    static Map<String, String> effective(ConfigDoc docs, String service, Map<String, String> environment) {
        Map<String, String> values = new LinkedHashMap<>();
        for (ConfigDoc.Key key : docs.keys(service).values()) {
            String value = environment.get(key.envVar());
            if (value == null) {
                value = key.defaultValue().orElse(null);
            }
            if (value != null) {
                values.put(key.name(), value);
            }
        }
        return values;
    }

    /** The container's effective configuration, for a container running one of the documented services. */
    static Map<String, String> effective(Rendered rendered, ConfigDoc docs, Workload workload, Container container) {
        String service = Workload.program(container).orElseThrow();
        return effective(docs, service, environment(rendered, workload, container, new ArrayList<>()));
    }

    /** A duration the way the services parse it (their own parser). */
    static Duration duration(String text) {
        return dev.rlhf.platform.config.ConfigKey.parseDuration(text);
    }

    /** host and port of {@code host:port}. */
    record Address(String host, int port) {
        static Address parse(String text) {
            int colon = text.lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("not host:port: " + text);
            }
            return new Address(text.substring(0, colon), Integer.parseInt(text.substring(colon + 1)));
        }
    }
}
