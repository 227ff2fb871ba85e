package dev.rlhf.reward;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.io.ShardedSafeTensors;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.vocabulary.RewardKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

/** Reward checkpoints on disk (good, NaN-headed, corrupt) and service configs for tests. */
public final class RewardFixtures {
    public static final int MAX_RESPONSES = 4;

    private RewardFixtures() {
    }

    /** A tiny random reward checkpoint with tokenizer; different seeds give different scores. */
    public static Path checkpoint(Path dir, long seed) {
        return ModelFactory.tinyForTests(dir, seed, true);
    }

    /** A copy of {@code source} whose scalar head is NaN, re-saved with a consistent manifest. */
    public static Path nanHeadCheckpoint(Path source, Path target) {
        try (NDManager m = NDManager.newBaseManager();
             LlamaWeights w = LlamaCheckpoint.load(source, m, ScoreHead.REQUIRED)) {
            w.get(LlamaWeights.SCORE_HEAD).muli(Float.NaN);
            return LlamaCheckpoint.save(w, target, LlamaCheckpoint.SaveOptions.defaults(1)
                    .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(source, dir)));
        }
    }

    /** A copy of {@code source} with bytes of its weights changed after the manifest recorded their sha256. */
    public static Path corruptCopy(Path source, Path target) throws IOException {
        Files.createDirectories(target);
        try (Stream<Path> files = Files.list(source)) {
            for (Path f : files.toList()) {
                Files.copy(f, target.resolve(f.getFileName()));
            }
        }
        Path weights = target.resolve(ShardedSafeTensors.SINGLE_FILE);
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length - 1] ^= (byte) 0xFF; // inside the last tensor's data
        Files.write(weights, bytes);
        return target;
    }

    /** A service on loopback with any free ports, serving {@code checkpoint} as version 1. */
    public static RewardConfig config(RewardKind kind, Path checkpoint, boolean followUpdates, String kafka) {
        return new RewardConfig(kind, "127.0.0.1", 0, checkpoint, 1, MAX_RESPONSES, 8, 64 << 20, "cpu", 0,
                followUpdates, kafka, Duration.ofSeconds(10));
    }
}
