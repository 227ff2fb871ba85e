package dev.rlhf.k8s;

import static dev.rlhf.k8s.Workload.Containers.APP_ONLY;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPortBuilder;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.kafka.listener.GenericKafkaListener;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Decides whether NetworkPolicies let one pod open a connection to another, with the semantics of the Kubernetes
 * API (pod and namespace selectors, named ports resolved on the destination, no policy = allowed), for the pods of a
 * rendered variant plus the policies Strimzi generates from the listeners' networkPolicyPeers.
 */
final class NetworkFlows {

    /** A pod as policies see it: where it runs, its labels, its named ports. */
    /** @param ip the address a peer reaches it at, for ipBlock rules (null: a pod addressed by selectors only) */
    record Pod(String name, String namespace, Map<String, String> labels, Map<String, Integer> namedPorts,
               String ip) {
        Pod(String name, String namespace, Map<String, String> labels, Map<String, Integer> namedPorts) {
            this(name, namespace, labels, namedPorts, null);
        }
    }

    private final List<NetworkPolicy> policies;
    private final Map<String, Map<String, String>> namespaceLabels = new LinkedHashMap<>();
    private final String namespace;
    private final Map<String, Pod> pods = new LinkedHashMap<>();

    NetworkFlows(Rendered r) {
        Namespace ns = r.all(Namespace.class).get(0);
        this.namespace = ns.getMetadata().getName();
        Map<String, String> labels = new LinkedHashMap<>(ns.getMetadata().getLabels());
        labels.put("kubernetes.io/metadata.name", namespace);
        namespaceLabels.put(namespace, labels);
        this.policies = new ArrayList<>(r.all(NetworkPolicy.class));
        for (Workload w : r.workloads()) {
            Map<String, Integer> ports = new LinkedHashMap<>();
            w.containers(APP_ONLY).forEach(c -> c.getPorts().forEach(p -> {
                if (p.getName() != null) {
                    ports.put(p.getName(), p.getContainerPort());
                }
            }));
            pods.put(w.name(), new Pod(w.name(), namespace, w.labels(), ports));
        }
        for (Kafka kafka : r.all(Kafka.class)) {
            String cluster = kafka.getMetadata().getName();
            pods.put("kafka", new Pod("kafka", namespace, Map.of("strimzi.io/cluster", cluster,
                    "strimzi.io/kind", "Kafka", "strimzi.io/name", cluster + "-kafka",
                    "strimzi.io/broker-role", "true"), Map.of()));
            policies.add(strimziListenerPolicy(kafka));
        }
    }

    /** A pod of the variant by workload name, or {@code kafka} for a broker. */
    Pod pod(String name) {
        Pod pod = pods.get(name);
        if (pod == null) {
            throw new AssertionError("no pod " + name + " (known: " + pods.keySet() + ")");
        }
        return pod;
    }

    /** A pod outside the variant, in a namespace carrying only its name label. */
    Pod external(String namespaceName, Map<String, String> labels) {
        namespaceLabels.putIfAbsent(namespaceName, Map.of("kubernetes.io/metadata.name", namespaceName));
        return new Pod(String.valueOf(labels), namespaceName, labels, Map.of());
    }

    /** A pod of the variant's namespace that is not one of its workloads (a tools pod). */
    Pod other(Map<String, String> labels) {
        return new Pod(String.valueOf(labels), namespace, labels, Map.of());
    }

    /** An endpoint known only by its IPv4 address (NodeLocal DNSCache's 169.254.20.10). */
    Pod address(String ip) {
        return new Pod(ip, "", Map.of(), Map.of(), ip);
    }

    boolean allowed(Pod from, Pod to, int port, String protocol) {
        return egressAllowed(from, to, port, protocol) && ingressAllowed(from, to, port, protocol);
    }

    private boolean egressAllowed(Pod from, Pod to, int port, String protocol) {
        List<NetworkPolicy> selecting = selecting(from, "Egress");
        return selecting.isEmpty() || selecting.stream().flatMap(p -> p.getSpec().getEgress().stream()
                .map(rule -> ruleAllows(p, rule.getTo(), rule.getPorts(), to, to, port, protocol)))
                .anyMatch(Boolean::booleanValue);
    }

    private boolean ingressAllowed(Pod from, Pod to, int port, String protocol) {
        List<NetworkPolicy> selecting = selecting(to, "Ingress");
        return selecting.isEmpty() || selecting.stream().flatMap(p -> p.getSpec().getIngress().stream()
                .map(rule -> ruleAllows(p, rule.getFrom(), rule.getPorts(), from, to, port, protocol)))
                .anyMatch(Boolean::booleanValue);
    }

    private List<NetworkPolicy> selecting(Pod pod, String direction) {
        return policies.stream()
                .filter(p -> Objects.equals(p.getMetadata().getNamespace(), pod.namespace()))
                .filter(p -> types(p).contains(direction))
                .filter(p -> Wiring.matches(orEmpty(p.getSpec().getPodSelector()), pod.labels()))
                .toList();
    }

    private static List<String> types(NetworkPolicy p) {
        if (p.getSpec().getPolicyTypes() != null && !p.getSpec().getPolicyTypes().isEmpty()) {
            return p.getSpec().getPolicyTypes();
        }
        return p.getSpec().getEgress().isEmpty() ? List.of("Ingress") : List.of("Ingress", "Egress");
    }

    /** @param peer the other end of the connection; {@code destination} resolves named ports */
    private boolean ruleAllows(NetworkPolicy policy, List<NetworkPolicyPeer> peers, List<NetworkPolicyPort> ports,
                               Pod peer, Pod destination, int port, String protocol) {
        boolean portOk = ports == null || ports.isEmpty() || ports.stream().anyMatch(p ->
                Objects.equals(p.getProtocol() == null ? "TCP" : p.getProtocol(), protocol)
                        && (p.getPort() == null || resolve(p.getPort(), destination) == port));
        boolean peerOk = peers == null || peers.isEmpty() || peers.stream()
                .anyMatch(candidate -> peerMatches(policy.getMetadata().getNamespace(), candidate, peer));
        return portOk && peerOk;
    }

    private boolean peerMatches(String policyNamespace, NetworkPolicyPeer candidate, Pod pod) {
        if (candidate.getIpBlock() != null) {
            return pod.ip() != null && inCidr(pod.ip(), candidate.getIpBlock().getCidr())
                    && (candidate.getIpBlock().getExcept() == null || candidate.getIpBlock().getExcept().stream()
                    .noneMatch(e -> inCidr(pod.ip(), e)));
        }
        if (pod.ip() != null) {
            return false; // an address is not selected by labels
        }
        boolean namespaceOk = candidate.getNamespaceSelector() == null
                ? pod.namespace().equals(policyNamespace)
                : Wiring.matches(candidate.getNamespaceSelector(), namespaceLabels.getOrDefault(pod.namespace(), Map.of()));
        boolean podOk = candidate.getPodSelector() == null || Wiring.matches(candidate.getPodSelector(), pod.labels());
        return namespaceOk && podOk;
    }

    static boolean inCidr(String ip, String cidr) {
        String[] parts = cidr.split("/");
        int bits = parts.length == 2 ? Integer.parseInt(parts[1]) : 32;
        long mask = bits == 0 ? 0 : (0xFFFFFFFFL << (32 - bits)) & 0xFFFFFFFFL;
        return (ipv4(ip) & mask) == (ipv4(parts[0]) & mask);
    }

    private static long ipv4(String ip) {
        long v = 0;
        for (String octet : ip.split("\\.")) {
            v = (v << 8) | Integer.parseInt(octet);
        }
        return v;
    }

    private static int resolve(IntOrString port, Pod destination) {
        if (port.getStrVal() != null) {
            return destination.namedPorts().getOrDefault(port.getStrVal(), -1);
        }
        return port.getIntVal();
    }

    private static LabelSelector orEmpty(LabelSelector selector) {
        return selector == null ? new LabelSelector() : selector;
    }

    /** What Strimzi generates: ingress to the brokers per listener port, from its networkPolicyPeers (or anyone). */
    private NetworkPolicy strimziListenerPolicy(Kafka kafka) {
        String cluster = kafka.getMetadata().getName();
        List<NetworkPolicyIngressRule> rules = new ArrayList<>();
        for (GenericKafkaListener listener : kafka.getSpec().getKafka().getListeners()) {
            NetworkPolicyIngressRule rule = new NetworkPolicyIngressRule();
            rule.setPorts(List.of(new NetworkPolicyPortBuilder().withProtocol("TCP")
                    .withPort(new IntOrString(listener.getPort())).build()));
            rule.setFrom(listener.getNetworkPolicyPeers());
            rules.add(rule);
        }
        return new NetworkPolicyBuilder().withNewMetadata().withName(cluster + "-network-policy-kafka")
                .withNamespace(namespace).endMetadata()
                .withNewSpec().withNewPodSelector().addToMatchLabels("strimzi.io/cluster", cluster)
                .addToMatchLabels("strimzi.io/kind", "Kafka").endPodSelector()
                .withPolicyTypes("Ingress").withIngress(rules).endSpec().build();
    }
}
