package dev.rlhf.trainer.domain;

import dev.rlhf.llama.io.AtomicDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The directory of one model's versioned checkpoints, as every online trainer here uses it. */
final class CheckpointDirs {
    private CheckpointDirs() {}

    /**
     * Creates {@code root} if needed, deletes the temporary directories of a crash mid-write (never loaded) and
     * returns the newest complete checkpoint, or null when there is none (start from the initial model).
     */
    static Path prepare(Path root) {
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create checkpoint directory " + root, e);
        }
        AtomicDirectory.deleteLeftovers(root);
        return newest(root);
    }

    /** The newest complete checkpoint under {@code root}, or null. */
    static Path newest(Path root) {
        List<Path> complete = AtomicDirectory.listCompleteCheckpoints(root);
        return complete.isEmpty() ? null : complete.get(complete.size() - 1);
    }
}
