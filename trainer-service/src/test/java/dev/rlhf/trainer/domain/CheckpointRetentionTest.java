package dev.rlhf.trainer.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlhf.llama.io.AtomicDirectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointRetentionTest {
    @TempDir
    Path tmp;

    /** Six versions at steps 1..6; keep 3 leaves 4, 5, 6 plus the needed version 2; 0 keeps everything. */
    @Test
    void theNewestAndTheNeededStayTheOldestGo() throws Exception {
        Path root = TestCheckpoints.versions(tmp.resolve("checkpoints"), tmp, 6);
        Files.createDirectories(root.resolve("tensorboard")); // not a checkpoint: never touched
        assertEquals(0, new CheckpointRetention(0, Set::of).prune(root), "0 keeps all");
        Path needed = root.resolve("policy-v000002");
        assertEquals(2, new CheckpointRetention(3, () -> Set.of(needed)).prune(root), "v1 and v3");
        assertEquals(List.of("policy-v000002", "policy-v000004", "policy-v000005", "policy-v000006"),
                AtomicDirectory.listCompleteCheckpoints(root).stream().map(p -> p.getFileName().toString()).toList());
        assertEquals(true, Files.isDirectory(root.resolve("tensorboard")));
        assertEquals(0, new CheckpointRetention(2, () -> null).prune(root),
                "while what the pods serve is unknown, nothing is deleted");
        assertEquals(4, AtomicDirectory.listCompleteCheckpoints(root).size());
        assertThrows(IllegalArgumentException.class, () -> new CheckpointRetention(1, Set::of),
                "one would let a service's announced version vanish under it");
    }
}
