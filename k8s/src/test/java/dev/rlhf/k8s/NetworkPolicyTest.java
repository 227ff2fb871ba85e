package dev.rlhf.k8s;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The network policies allow the system's flows and nothing else we can name. */
class NetworkPolicyTest {
    private static final List<String> SERVICES = List.of("policy", "reward-helpfulness", "reward-safety", "sampler",
            "trainer");
    private static final Map<String, Integer> METRICS = Map.of("policy", 9464, "reward-helpfulness", 9465,
            "reward-safety", 9465, "sampler", 9466, "trainer", 9467);

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void theSystemsOwnFlowsAreAllowed(String variant) {
        NetworkFlows flows = new NetworkFlows(Variants.get(variant));
        NetworkFlows.Pod sampler = flows.pod("sampler");
        assertTrue(flows.allowed(sampler, flows.pod("policy"), 50051, "TCP"), "sampler -> policy gRPC");
        assertTrue(flows.allowed(sampler, flows.pod("reward-helpfulness"), 50061, "TCP"), "sampler -> helpfulness");
        assertTrue(flows.allowed(sampler, flows.pod("reward-safety"), 50061, "TCP"), "sampler -> safety");
        // The tools pod (k8s/tools) runs `rlhf generate --remote` and `rlhf score --remote` in the cluster.
        NetworkFlows.Pod tools = flows.other(Map.of("app.kubernetes.io/name", "rlhf-tools"));
        assertTrue(flows.allowed(tools, flows.pod("policy"), 50051, "TCP"), "tools -> policy gRPC");
        assertTrue(flows.allowed(tools, flows.pod("reward-safety"), 50061, "TCP"), "tools -> reward gRPC");
        assertFalse(flows.allowed(tools, flows.pod("policy"), 9464, "TCP"), "tools -> policy metrics");
        NetworkFlows.Pod prometheus = flows.external("monitoring", Map.of("app.kubernetes.io/name", "prometheus"));
        NetworkFlows.Pod dns = flows.external("kube-system", Map.of("k8s-app", "kube-dns"));
        NetworkFlows.Pod nodeLocalDns = flows.address("169.254.20.10");
        for (String service : SERVICES) {
            NetworkFlows.Pod pod = flows.pod(service);
            assertTrue(flows.allowed(pod, flows.pod("kafka"), 9094, "TCP"), service + " -> Kafka");
            assertTrue(flows.allowed(pod, dns, 53, "UDP"), service + " -> DNS");
            assertTrue(flows.allowed(pod, nodeLocalDns, 53, "UDP"), service + " -> NodeLocal DNSCache");
            assertFalse(flows.allowed(pod, flows.address("169.254.20.11"), 53, "UDP"), service + " -> another IP");
            assertTrue(flows.allowed(prometheus, pod, METRICS.get(service), "TCP"), "Prometheus -> " + service);
        }
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void everythingElseWeCanNameIsDenied(String variant) {
        NetworkFlows flows = new NetworkFlows(Variants.get(variant));
        NetworkFlows.Pod stranger = flows.external("default", Map.of("app", "curl"));
        NetworkFlows.Pod prometheus = flows.external("monitoring", Map.of("app.kubernetes.io/name", "prometheus"));
        assertFalse(flows.allowed(flows.pod("trainer"), flows.pod("policy"), 50051, "TCP"), "trainer -> policy");
        assertFalse(flows.allowed(flows.pod("policy"), flows.pod("reward-safety"), 50061, "TCP"), "policy -> reward");
        assertFalse(flows.allowed(flows.pod("sampler"), flows.pod("policy"), 9464, "TCP"), "sampler -> metrics");
        assertFalse(flows.allowed(prometheus, flows.pod("policy"), 50051, "TCP"), "Prometheus -> gRPC");
        assertFalse(flows.allowed(stranger, flows.pod("policy"), 50051, "TCP"), "other namespace -> policy");
        assertFalse(flows.allowed(stranger, flows.pod("kafka"), 9094, "TCP"), "other namespace -> Kafka");
        assertFalse(flows.allowed(flows.pod("policy"), stranger, 443, "TCP"), "policy -> anywhere");
        assertFalse(flows.allowed(flows.pod("sampler"), flows.pod("trainer"), 9467, "TCP"), "sampler -> trainer");
    }

    @Test
    void kedaReachesKafkaOnlyWithItsComponent() {
        Map<String, String> keda = Map.of("app.kubernetes.io/name", "keda-operator");
        NetworkFlows with = new NetworkFlows(Variants.get("base+keda"));
        NetworkFlows without = new NetworkFlows(Variants.get("base"));
        assertTrue(with.allowed(with.external("keda", keda), with.pod("kafka"), 9094, "TCP"));
        assertFalse(without.allowed(without.external("keda", keda), without.pod("kafka"), 9094, "TCP"));
    }

    @Test
    void withoutTheModelIngressPolicyTheSamplerIsCutOff() {
        // The evaluator is not vacuous: removing one allow rule denies exactly the flow it allowed.
        Rendered r = Variants.get("base").copy();
        r.objects().removeIf(o -> o instanceof NetworkPolicy p && p.getMetadata().getName().equals("models-from-sampler"));
        NetworkFlows flows = new NetworkFlows(r);
        assertFalse(flows.allowed(flows.pod("sampler"), flows.pod("policy"), 50051, "TCP"));
        assertTrue(flows.allowed(flows.pod("sampler"), flows.pod("kafka"), 9094, "TCP"));
    }
}
