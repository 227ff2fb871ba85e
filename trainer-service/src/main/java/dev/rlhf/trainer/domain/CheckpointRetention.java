package dev.rlhf.trainer.domain;

import dev.rlhf.llama.io.AtomicDirectory;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Keeps a model's checkpoint directory from filling the store: after each new version, only the newest {@code keep}
 * complete checkpoints stay (the one a restart resumes from is always among them), plus any a trainer still needs
 * (PPO's reference pi_0) or a serving pod still holds (announced on rlhf.serving). At least two are kept, so a
 * service loading the version announced just before never finds it deleted. 0 keeps everything (the default: the
 * demo reads every version).
 */
public final class CheckpointRetention {
    private final int keep;
    private final Supplier<Set<Path>> needed;

    /**
     * @param needed checkpoints that must stay whatever their age, asked at each pruning; null when that is not known
     *               yet (the serving pods' announcements still being read), and then nothing is deleted
     */
    public CheckpointRetention(int keep, Supplier<Set<Path>> needed) {
        if (keep != 0 && keep < 2) {
            throw new IllegalArgumentException("keep must be 0 (everything) or at least 2, got " + keep);
        }
        this.keep = keep;
        this.needed = needed;
    }

    /** Deletes the oldest complete checkpoints under {@code root} beyond {@code keep}; returns how many. */
    public int prune(Path root) {
        if (keep == 0) {
            return 0;
        }
        // Oldest first; not re-hashing every kept version's files after each step.
        List<Path> complete = AtomicDirectory.listCompleteCheckpoints(root, false);
        Set<Path> keepAlways = needed.get();
        if (keepAlways == null) {
            return 0;
        }
        int deleted = 0;
        for (int i = 0; i < complete.size() - keep; i++) {
            Path dir = complete.get(i);
            if (keepAlways.stream().noneMatch(p -> p.toAbsolutePath().normalize()
                    .equals(dir.toAbsolutePath().normalize()))) {
                AtomicDirectory.deleteRecursively(dir);
                deleted++;
            }
        }
        return deleted;
    }
}
