package dev.rlhf.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * tools/smoke-test.yaml (issue 17): it checks the policy and both reward services, each through a Service and port
 * the base deploys, one container per check, and fails the Job on the first failure (no retries).
 */
class SmokeTestJobTest {
    @Test
    void eachCheckCallsARealServiceOnItsGrpcPort() {
        Job job = Variants.tools().all(Job.class).stream().filter(j -> j.getMetadata().getName().equals("smoke-test"))
                .findFirst().orElseThrow();
        assertEquals(0, job.getSpec().getBackoffLimit(), "a failed check fails the Job");
        PodSpec pod = job.getSpec().getTemplate().getSpec();
        List<Container> checks = new ArrayList<>(pod.getInitContainers());
        checks.addAll(pod.getContainers());
        List<String> targets = new ArrayList<>();
        for (Container c : checks) {
            List<String> args = c.getArgs();
            if (!args.contains("--remote")) {
                continue;
            }
            String remote = args.get(args.indexOf("--remote") + 1);
            targets.add(args.get(0) + " " + remote);
            String host = remote.substring(0, remote.indexOf(':'));
            int port = Integer.parseInt(remote.substring(remote.indexOf(':') + 1));
            Service service = Variants.get("base").all(Service.class).stream()
                    .filter(s -> s.getMetadata().getName().equals(host)).findFirst()
                    .orElseThrow(() -> new AssertionError(c.getName() + ": no Service " + host));
            assertTrue(service.getSpec().getPorts().stream().anyMatch(p -> p.getPort() == port
                    && "grpc".equals(p.getName())), c.getName() + ": " + host + " has no grpc port " + port);
        }
        assertEquals(List.of("generate policy:50051", "score reward-helpfulness:50061", "score reward-safety:50061"),
                targets);
    }

    /**
     * The end-to-end check runs last: it sends at least one trainer step's worth of prompts (the default
     * trainer.batch-size, which the base does not change) and waits for a newer policy version, logged in as a
     * KafkaUser that may do exactly that.
     */
    @Test
    void theEndToEndCheckSendsATrainerStepOfPromptsAndWaitsForANewVersion() {
        Job job = Variants.tools().all(Job.class).stream().filter(j -> j.getMetadata().getName().equals("smoke-test"))
                .findFirst().orElseThrow();
        PodSpec pod = job.getSpec().getTemplate().getSpec();
        assertEquals(1, pod.getContainers().size(), "the end-to-end check is the one container after the others");
        Container e2e = pod.getContainers().get(0);
        List<String> args = e2e.getArgs();
        assertEquals(List.of("prompts", "send"), args.subList(0, 2));
        assertTrue(args.contains("--await-policy-version"), args.toString());
        String user = e2e.getEnv().stream().filter(v -> v.getName().equals("RLHF_KAFKA_SASL_JAAS_CONFIG"))
                .findFirst().orElseThrow().getValueFrom().getSecretKeyRef().getName();
        io.strimzi.api.kafka.model.user.KafkaUser kafkaUser = Variants.tools()
                .all(io.strimzi.api.kafka.model.user.KafkaUser.class).stream()
                .filter(u -> u.getMetadata().getName().equals(user)).findFirst().orElseThrow();
        java.util.Set<String> grants = new java.util.TreeSet<>();
        ((io.strimzi.api.kafka.model.user.KafkaUserAuthorizationSimple) kafkaUser.getSpec().getAuthorization())
                .getAcls().forEach(acl -> acl.getOperations().forEach(op -> grants.add(
                        ((io.strimzi.api.kafka.model.user.acl.AclRuleTopicResource) acl.getResource()).getName()
                                + " " + op)));
        assertEquals(java.util.Set.of("rlhf.prompts WRITE", "rlhf.prompts DESCRIBE", "rlhf.policy-updates READ",
                "rlhf.policy-updates DESCRIBE"), grants, "exactly what the check needs");
        io.fabric8.kubernetes.api.model.ConfigMap prompts = Variants.tools()
                .all(io.fabric8.kubernetes.api.model.ConfigMap.class).stream()
                .filter(m -> m.getMetadata().getName().equals("smoke-prompts")).findFirst().orElseThrow();
        long lines = prompts.getData().get("prompts.jsonl").lines().filter(l -> !l.isBlank()).count();
        int batch = Integer.parseInt(Sources.CONFIG.key("trainer", "RLHF_TRAINER_BATCH_SIZE").orElseThrow()
                .defaultValue().orElseThrow());
        assertTrue(lines >= batch, lines + " prompts, the trainer steps every " + batch + " best samples");
    }
}
