package dev.rlhf.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * components/grpc-tls (issue 13): the servers read their certificate, key, client CA and token from mounted
 * Secrets, the sampler its client certificate and the token, every file a variable names lies under a read-only
 * mount of the right Secret, and the probes use the plaintext health port the service then opens.
 */
class GrpcTlsTest {
    private static final Rendered TLS = Variants.get("base+grpc-tls");

    @Test
    void theServersMountTheirSecretsAndProbeThePlaintextHealthPort() {
        for (Deployment d : TLS.all(Deployment.class)) {
            String name = d.getMetadata().getName();
            if (!name.equals("policy") && !name.startsWith("reward-")) {
                continue;
            }
            String prefix = name.equals("policy") ? "RLHF_POLICY_" : "RLHF_REWARD_";
            PodSpec pod = d.getSpec().getTemplate().getSpec();
            Container c = pod.getContainers().get(0);
            Map<String, String> env = env(c);
            String healthPort = env.get(prefix + "PLAINTEXT_HEALTH_PORT");
            assertTrue(healthPort != null && !healthPort.equals("0"), name + ": a plaintext health port");
            for (Probe probe : List.of(c.getStartupProbe(), c.getReadinessProbe(), c.getLivenessProbe())) {
                assertEquals(Integer.parseInt(healthPort), probe.getGrpc().getPort(), name + ": probes on " + healthPort);
            }
            assertMounted(pod, c, env.get(prefix + "TLS_CERT_FILE"), "rlhf-grpc-tls", name);
            assertMounted(pod, c, env.get(prefix + "TLS_KEY_FILE"), "rlhf-grpc-tls", name);
            assertMounted(pod, c, env.get(prefix + "TLS_CLIENT_CA_FILE"), "rlhf-grpc-tls", name);
            assertMounted(pod, c, env.get(prefix + "AUTH_TOKEN_FILE"), "rlhf-grpc-token", name);
        }
        assertEquals(3, TLS.all(Deployment.class).stream().filter(d -> env(d.getSpec().getTemplate().getSpec()
                .getContainers().get(0)).keySet().stream().anyMatch(k -> k.endsWith("_TLS_CERT_FILE"))).count(),
                "policy and both reward deployments");
    }

    @Test
    void theSamplerPresentsItsClientCertificateAndTheToken() {
        StatefulSet sampler = TLS.all(StatefulSet.class).stream().filter(s -> s.getMetadata().getName()
                .equals("sampler")).findFirst().orElseThrow();
        PodSpec pod = sampler.getSpec().getTemplate().getSpec();
        Container c = pod.getContainers().get(0);
        Map<String, String> env = env(c);
        assertEquals("true", env.get("RLHF_SAMPLER_TLS"));
        assertMounted(pod, c, env.get("RLHF_SAMPLER_TLS_CA_FILE"), "rlhf-grpc-client-tls", "sampler");
        assertMounted(pod, c, env.get("RLHF_SAMPLER_TLS_CERT_FILE"), "rlhf-grpc-client-tls", "sampler");
        assertMounted(pod, c, env.get("RLHF_SAMPLER_TLS_KEY_FILE"), "rlhf-grpc-client-tls", "sampler");
        assertMounted(pod, c, env.get("RLHF_SAMPLER_AUTH_TOKEN_FILE"), "rlhf-grpc-token", "sampler");
    }

    private static Map<String, String> env(Container c) {
        return c.getEnv().stream().filter(e -> e.getValue() != null)
                .collect(Collectors.toMap(EnvVar::getName, EnvVar::getValue));
    }

    /** {@code file} is under a read-only mount of a volume backed by Secret {@code secret}. */
    private static void assertMounted(PodSpec pod, Container c, String file, String secret, String who) {
        assertTrue(file != null, who + ": the variable for a " + secret + " file is set");
        VolumeMount mount = c.getVolumeMounts().stream().filter(m -> file.startsWith(m.getMountPath() + "/"))
                .findFirst().orElseThrow(() -> new AssertionError(who + ": nothing mounted over " + file));
        assertTrue(Boolean.TRUE.equals(mount.getReadOnly()), who + ": " + mount.getMountPath() + " read-only");
        Volume volume = pod.getVolumes().stream().filter(v -> v.getName().equals(mount.getName())).findFirst()
                .orElseThrow();
        assertEquals(secret, volume.getSecret().getSecretName(), who + ": " + file);
    }
}
