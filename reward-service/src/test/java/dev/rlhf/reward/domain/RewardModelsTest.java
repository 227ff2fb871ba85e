package dev.rlhf.reward.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.reward.RewardFixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RewardModelsTest {
    @TempDir
    Path tmp;

    private static boolean isOpen(RewardModel model) {
        return model.model().weights().manager().isOpen();
    }

    @Test
    void aRunningCallKeepsItsModelUntilItReleasesAndTheReplacedModelClosesOnce() {
        Path dir = RewardFixtures.checkpoint(tmp.resolve("rm"), 1);
        try (NDManager m = NDManager.newBaseManager()) {
            RewardModels models = new RewardModels();
            assertNull(models.acquire());
            assertEquals(-1, models.version());
            RewardModel v1 = RewardModel.load(RewardKind.SAFETY, 1, dir, m);
            models.swap(v1);
            RewardModels.Lease running = models.acquire();
            RewardModel v2 = RewardModel.load(RewardKind.SAFETY, 2, dir, m);
            models.swap(v2);

            assertTrue(isOpen(v1), "v1 still serves the running call");
            try (RewardModels.Lease fresh = models.acquire()) {
                assertEquals(2, fresh.version());
                assertEquals(2, models.version());
            }
            assertEquals(1, running.version());
            running.close();
            assertFalse(isOpen(v1), "v1 closed with its last lease");
            running.close(); // a second close must not release v2's references
            assertTrue(isOpen(v2));

            RewardModels.Lease last = models.acquire();
            models.clear();
            assertEquals(-1, models.version());
            assertNull(models.acquire());
            assertTrue(isOpen(v2), "clear waits for the call still running");
            last.close();
            assertFalse(isOpen(v2));
        }
    }
}
