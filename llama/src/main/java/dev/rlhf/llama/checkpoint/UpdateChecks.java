package dev.rlhf.llama.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.runtime.GradMode;
import java.net.URI;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a service checks before it hot-swaps an announced version in (the policy and reward services alike): where
 * the update points (a plain path or a {@code file:} URI, never a crash on a malformed one), that the checkpoint's
 * manifest is the one announced (the manifest then vouches for every other file), that the model fits what is
 * served (vocabulary, context and every tensor shape: a client's token ids and the service's limits stay valid),
 * and that a canary forward pass gives finite logits. Each failure is an IllegalArgumentException naming it.
 */
public final class UpdateChecks {
    /** The canary's tokens (after BOS): any ids below every vocabulary size here do. */
    private static final int CANARY_LENGTH = 8;

    private UpdateChecks() {}

    /** Before loading: the update's directory ({@link #location}) holding the announced manifest ({@link #manifest}). */
    public static Path verifiedDirectory(String location, String manifestSha256) {
        Path dir = location(location);
        manifest(dir, manifestSha256);
        return dir;
    }

    /**
     * After loading, before serving: the candidate fits the served model ({@link #compatible}; {@code served} null
     * when nothing is served yet) and computes finite numbers ({@link #finite}).
     */
    public static void servable(LlamaConfig served, LlamaModel candidate) {
        if (served != null) {
            compatible(served, candidate.config());
        }
        finite(candidate);
    }

    /** The checkpoint directory of an update's location: a plain path or a {@code file:} URI. */
    public static Path location(String location) {
        if (location == null || location.isEmpty()) {
            throw new IllegalArgumentException("the update has no checkpoint uri");
        }
        try {
            // InvalidPathException (a NUL, say) and URI syntax errors are IllegalArgumentExceptions.
            return location.startsWith("file:") ? Path.of(URI.create(location)) : Path.of(location);
        } catch (IllegalArgumentException | FileSystemNotFoundException e) {
            throw new IllegalArgumentException("checkpoint uri '" + location.replace("\0", "\\0") + "' is not a local "
                    + "path or file: URI: " + e.getMessage(), e);
        }
    }

    /** The update names the manifest by its hash; a checkpoint without one, or with another, is refused. */
    public static void manifest(Path dir, String expectedSha256) {
        if (expectedSha256 == null || expectedSha256.isEmpty()) {
            throw new IllegalArgumentException("the update carries no manifest sha256, so " + dir
                    + " cannot be verified");
        }
        Path manifest = dir.resolve(Manifest.FILE_NAME);
        if (!Files.isRegularFile(manifest)) {
            throw new IllegalArgumentException("checkpoint " + dir + " has no " + Manifest.FILE_NAME);
        }
        String actual = Manifest.sha256(manifest);
        if (!actual.equalsIgnoreCase(expectedSha256)) {
            throw new IllegalArgumentException("checkpoint " + dir + ": manifest sha256 " + actual
                    + " does not match the update's " + expectedSha256);
        }
    }

    /** The candidate has the served model's vocabulary, context and tensor shapes (score head aside). */
    public static void compatible(LlamaConfig served, LlamaConfig candidate) {
        if (served.vocabSize() != candidate.vocabSize()) {
            throw new IllegalArgumentException("vocabulary " + candidate.vocabSize() + " differs from the served "
                    + served.vocabSize());
        }
        if (served.maxPositionEmbeddings() != candidate.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("context " + candidate.maxPositionEmbeddings() + " differs from the "
                    + "served " + served.maxPositionEmbeddings());
        }
        var want = LlamaWeights.expectedShapes(served, false);
        var got = LlamaWeights.expectedShapes(candidate, false);
        if (!want.equals(got)) {
            for (var e : want.entrySet()) {
                Shape g = got.get(e.getKey());
                if (!e.getValue().equals(g)) {
                    throw new IllegalArgumentException("tensor " + e.getKey() + " has shape " + g + ", the served "
                            + e.getValue());
                }
            }
            throw new IllegalArgumentException("tensors differ from the served model's: " + got.keySet());
        }
    }

    /** A forward pass over a few tokens gives finite logits (and a finite score, when the model has a head). */
    public static void finite(LlamaModel model) {
        LlamaConfig c = model.config();
        int length = Math.min(CANARY_LENGTH, c.maxPositionEmbeddings());
        long[] ids = new long[length];
        for (int i = 0; i < length; i++) {
            ids[i] = i == 0 ? c.bosTokenId() : (3 + i) % c.vocabSize();
        }
        try (GradMode.Restore ignored = GradMode.disabled();
             NDManager m = model.weights().manager().newSubManager()) {
            NDArray hidden = model.hidden(m.create(ids, new Shape(1, length)),
                    m.arange(0, length, 1, DataType.INT64).reshape(1, length),
                    m.ones(new Shape(1, length), DataType.INT32), null);
            check(model.logits(hidden), "logits");
            if (model.weights().has(LlamaWeights.SCORE_HEAD)) {
                check(model.scalarScores(hidden), "scalar scores");
            }
        }
    }

    private static void check(NDArray values, String what) {
        float[] v = values.toType(DataType.FLOAT32, false).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException("a canary forward pass gives non-finite " + what + " (" + v[i]
                        + " at " + i + ")");
            }
        }
    }
}
