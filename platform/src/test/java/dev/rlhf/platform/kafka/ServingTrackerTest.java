package dev.rlhf.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * rlhf.serving on a real broker: what pods announce is what the tracker reports, a newer version replaces the
 * older, a withdrawn or stale announcement stops counting, and a tracker that starts late answers only once it has
 * read the announcements already on the topic.
 */
class ServingTrackerTest {
    private static KafkaBroker broker;

    @BeforeAll
    static void start() {
        broker = KafkaTestSupport.startBrokerWithTopics(3);
    }

    @AfterAll
    static void stop() {
        broker.close();
    }

    @Test
    void announcementsAreTrackedReplacedWithdrawnAndAgedOut() {
        String kafka = broker.bootstrapServers();
        Duration maxAge = Duration.ofMinutes(3);
        Path v1 = Path.of("/store/checkpoints/policy-v000001");
        Path v2 = Path.of("/store/checkpoints/policy-v000002");
        Path h3 = Path.of("/store/reward-checkpoints/helpfulness/helpfulness-v000003");
        try (ServingAnnouncer policy = new ServingAnnouncer(kafka, "policy", "policy-0", m -> { });
             ServingAnnouncer reward = new ServingAnnouncer(kafka, "helpfulness", "reward-helpfulness-0", m -> { })) {
            policy.serving(1, v1.toString());
            reward.serving(3, h3.toString());
            try (ServingTracker tracker = new ServingTracker(kafka, "test-tracker", m -> { }).start()) {
                await(() -> tracker.instances().size() == 2, tracker);
                // Caught up means the backlog is in: the first answer already names both.
                Optional<Set<Path>> first = tracker.directories(System.currentTimeMillis(), maxAge);
                assertEquals(Optional.of(Set.of(v1, h3)), first);
                assertEquals(1, tracker.instances().get("policy/policy-0").version());

                policy.serving(2, v2.toString());
                await(() -> tracker.instances().get("policy/policy-0").version() == 2, tracker);
                assertEquals(Set.of(v2, h3), tracker.directories(System.currentTimeMillis(), maxAge).orElseThrow(),
                        "the pod moved on: version 1 is no longer protected");
                assertEquals(Set.of(), tracker.directories(System.currentTimeMillis() + maxAge.toMillis() + 60_000,
                        maxAge).orElseThrow(), "announcements older than the max age do not count");

                reward.close(); // withdraws
                await(() -> !tracker.instances().containsKey("helpfulness/reward-helpfulness-0"), tracker);
                assertEquals(Set.of(v2), tracker.directories(System.currentTimeMillis(), maxAge).orElseThrow());
            }
        }
    }

    /** Waits for a condition the tracker's thread makes true, with a deadline (not a fixed sleep). */
    private static void await(BooleanSupplier condition, ServingTracker tracker) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out; tracker saw " + tracker.instances());
            try {
                Thread.sleep(20); // polling a condition, not synchronising on time: the condition decides
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
