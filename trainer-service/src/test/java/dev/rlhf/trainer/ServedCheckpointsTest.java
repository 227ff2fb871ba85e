package dev.rlhf.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.ServingAnnouncer;
import dev.rlhf.platform.kafka.ServingTracker;
import dev.rlhf.trainer.domain.CheckpointRetention;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * trainer.keep-checkpoints never deletes a version a serving pod announced on rlhf.serving (a real broker), and
 * deletes it once the pod withdraws.
 */
class ServedCheckpointsTest {
    @TempDir
    Path tmp;

    @Test
    void aServedVersionIsKeptUntilItsPodWithdraws() throws Exception {
        Path root = dev.rlhf.trainer.domain.TestCheckpoints.versions(tmp.resolve("checkpoints"), tmp, 4);
        Path v1 = root.resolve("policy-v000001");
        try (KafkaBroker broker = KafkaTestSupport.startBrokerWithTopics(2)) {
            String kafka = broker.bootstrapServers();
            ServingAnnouncer lagging = new ServingAnnouncer(kafka, "policy", "policy-7", m -> { });
            lagging.serving(1, v1.toString()); // a pod still on version 1 (it refused the later ones, say)
            try (ServingTracker tracker = new ServingTracker(kafka, "trainer-serving", m -> { }).start()) {
                assertTrue(tracker.awaitCaughtUp(Duration.ofSeconds(60)));
                CheckpointRetention retention = new CheckpointRetention(2, TrainerMain.withServed(tracker, Set::of));
                assertEquals(1, retention.prune(root), "version 2 goes, version 1 is served");
                assertEquals(List.of("policy-v000001", "policy-v000003", "policy-v000004"), names(root));

                lagging.close(); // the pod stops: its announcement is withdrawn
                long deadline = System.currentTimeMillis() + 60_000;
                while (tracker.instances().containsKey("policy/policy-7")) {
                    assertTrue(System.currentTimeMillis() < deadline, "the withdrawal never arrived");
                    Thread.sleep(20); // polling a condition, not synchronising on time
                }
                assertEquals(1, retention.prune(root), "no longer served: version 1 goes");
                assertEquals(List.of("policy-v000003", "policy-v000004"), names(root));
            }
        }
    }

    private static List<String> names(Path root) {
        return AtomicDirectory.listCompleteCheckpoints(root).stream().map(p -> p.getFileName().toString()).toList();
    }
}
