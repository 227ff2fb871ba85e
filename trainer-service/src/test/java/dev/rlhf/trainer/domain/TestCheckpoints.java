package dev.rlhf.trainer.domain;

import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.ModelFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/** Complete policy checkpoints policy-v000001 .. policy-vNNNNNN of a tiny model, for retention tests. */
public final class TestCheckpoints {
    private TestCheckpoints() {
    }

    /** Writes {@code count} versions under {@code root} (created), at steps 1..count; returns root. */
    public static Path versions(Path root, Path scratch, int count) throws Exception {
        Files.createDirectories(root);
        Path model = ModelFactory.tinyForTests(scratch.resolve("m"), 1, false);
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            var weights = LlamaCheckpoint.load(model, m, LlamaCheckpoint.ScoreHead.ABSENT);
            for (int v = 1; v <= count; v++) {
                LlamaCheckpoint.save(weights, root.resolve(String.format("policy-v%06d", v)),
                        LlamaCheckpoint.SaveOptions.defaults(v));
            }
        }
        return root;
    }
}
