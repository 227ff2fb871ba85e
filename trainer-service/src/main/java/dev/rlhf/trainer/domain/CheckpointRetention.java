package dev.rlhf.trainer.domain;

import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.io.Manifest;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Keeps a model's checkpoint directory from filling the store: after each new version, only the newest {@code keep}
 * complete checkpoints stay (the one a restart resumes from is always among them), plus any a trainer still needs
 * (PPO's reference pi_0). At least two are kept, so a service loading the version announced just before never finds
 * it deleted. 0 keeps everything (the default: the demo reads every version).
 */
public final class CheckpointRetention {
    private final int keep;
    private final Supplier<Set<Path>> needed;

    /** @param needed checkpoints that must stay whatever their age, asked at each pruning */
    public CheckpointRetention(int keep, Supplier<Set<Path>> needed) {
        if (keep != 0 && keep < 2) {
            throw new IllegalArgumentException("keep must be 0 (everything) or at least 2, got " + keep);
        }
        this.keep = keep;
        this.needed = needed;
    }

    /**
     * Complete checkpoints (a manifest present: the atomic rename happened) by step, without verifying their files:
     * hashing every weight file of every kept version after each step would cost more than the step.
     */
    static List<Path> byStep(Path root) {
        if (!java.nio.file.Files.isDirectory(root)) {
            return List.of();
        }
        record Found(Path dir, long step) {}
        List<Found> found = new java.util.ArrayList<>();
        try (var children = java.nio.file.Files.list(root)) {
            for (Path dir : children.toList()) {
                if (!dir.getFileName().toString().startsWith(".")
                        && java.nio.file.Files.isRegularFile(dir.resolve(Manifest.FILE_NAME))) {
                    try {
                        found.add(new Found(dir, Manifest.read(dir).step()));
                    } catch (RuntimeException e) {
                        // an unreadable manifest: not ours to delete
                    }
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot list " + root, e);
        }
        found.sort(java.util.Comparator.comparingLong(Found::step)
                .thenComparing(f -> f.dir().getFileName().toString()));
        return found.stream().map(Found::dir).toList();
    }

    /** Deletes the oldest complete checkpoints under {@code root} beyond {@code keep}; returns how many. */
    public int prune(Path root) {
        if (keep == 0) {
            return 0;
        }
        List<Path> complete = byStep(root); // oldest first
        Set<Path> keepAlways = needed.get();
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
