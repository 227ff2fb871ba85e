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
}
