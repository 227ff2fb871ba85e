package dev.rlhf.k8s;

import static dev.rlhf.k8s.Workload.Containers.APP_ONLY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code components/tracing}: every service exports to the collector under its own service name, the network
 * policies let exactly that flow out, and without the component nothing is exported.
 */
class TracingComponentTest {
    private static final List<String> SERVICES = List.of("policy", "reward-helpfulness", "reward-safety", "sampler",
            "trainer");
    private static final String ENDPOINT = "http://otel-collector.monitoring.svc:4318";

    @Test
    void everyServiceExportsUnderItsOwnNameToTheCollector() {
        Rendered r = Variants.get("base+tracing");
        for (String service : SERVICES) {
            Container c = workload(r, service).containers(APP_ONLY).get(0);
            assertEquals(service, value(c, "OTEL_SERVICE_NAME"), service);
            assertEquals(ENDPOINT, value(c, "OTEL_EXPORTER_OTLP_ENDPOINT"), service);
            Container base = workload(Variants.get("base"), service).containers(APP_ONLY).get(0);
            assertEquals(base.getEnv().size() + 2, c.getEnv().size(), service + ": the base's variables are kept");
        }
    }

    @Test
    void theCollectorsPortIsOpenOnlyWithTheComponent() {
        Map<String, String> collector = Map.of("app.kubernetes.io/name", "opentelemetry-collector");
        NetworkFlows with = new NetworkFlows(Variants.get("base+tracing"));
        NetworkFlows without = new NetworkFlows(Variants.get("base"));
        for (String service : SERVICES) {
            assertTrue(with.allowed(with.pod(service), with.external("monitoring", collector), 4318, "TCP"), service);
            assertFalse(with.allowed(with.pod(service), with.external("monitoring", collector), 4317, "TCP"),
                    service + ": only OTLP/HTTP, the protocol the services send");
            assertFalse(without.allowed(without.pod(service), without.external("monitoring", collector), 4318,
                    "TCP"), service + " without the component");
        }
    }

    @Test
    void withoutTheComponentNoServiceExports() {
        for (String service : SERVICES) {
            Container c = workload(Variants.get("base"), service).containers(APP_ONLY).get(0);
            assertTrue(c.getEnv().stream().noneMatch(e -> e.getName().startsWith("OTEL_")), service);
        }
    }

    private static Workload workload(Rendered r, String name) {
        return r.workloads().stream().filter(w -> w.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no workload " + name));
    }

    private static String value(Container c, String name) {
        return Workload.env(c, name).map(EnvVar::getValue).orElse(null);
    }
}
