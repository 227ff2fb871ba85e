package dev.rlhf.policy.domain;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.SharedBases;
import dev.rlhf.llama.cpu.CpuDecoding;
import dev.rlhf.llama.cpu.SequenceDecoder;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.generate.SequenceScorer;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;

/** One loaded policy checkpoint: model, tokenizer, generator and scorer, tagged with its version. */
public final class PolicyVersion implements AutoCloseable {
    private final long version;
    private final Path dir;
    private final NDManager manager;
    private final LlamaModel model;
    private final LlamaTokenizer tokenizer;
    private final Generator generator;
    private final SequenceScorer scorer;
    /** The batch-1 CPU decoder over this version's weights, or null. */
    private final SequenceDecoder batchOne;

    private PolicyVersion(long version, Path dir, NDManager manager, LlamaModel model, LlamaTokenizer tokenizer,
                          boolean cpuDecode) {
        this.version = version;
        this.dir = dir;
        this.manager = manager;
        this.model = model;
        this.tokenizer = tokenizer;
        // A served version's weights never change, so a copy of them stays right for its whole life.
        this.batchOne = cpuDecode ? CpuDecoding.open(model, 0).orElse(null) : null;
        this.generator = new Generator(model, tokenizer::decode, tokenizer.padId(), batchOne);
        this.scorer = new SequenceScorer(model, tokenizer.padId());
    }

    /**
     * Loads a checkpoint directory. When {@code expectedManifestSha256} is given (from a ModelUpdate) the
     * manifest must hash to it; the manifest then vouches for every other file's checksum.
     */
    public static PolicyVersion load(long version, Path dir, String expectedManifestSha256, NDManager parent) {
        return load(version, dir, expectedManifestSha256, parent, null, false);
    }

    /**
     * As above; an adapter version stands on a base shared through {@code bases} (null: loaded on its own), so
     * swapping adapters on one base reads only the adapter. {@code cpuDecode}: decode one-row batches on the
     * CPU decoder when it can run ({@link CpuDecoding}).
     */
    public static PolicyVersion load(long version, Path dir, String expectedManifestSha256, NDManager parent,
                                     SharedBases bases, boolean cpuDecode) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("policy checkpoint " + dir + " does not exist");
        }
        if (expectedManifestSha256 != null && !expectedManifestSha256.isEmpty()) {
            String actual = Manifest.sha256(dir.resolve(Manifest.FILE_NAME));
            if (!actual.equalsIgnoreCase(expectedManifestSha256)) {
                throw new IllegalArgumentException("policy checkpoint " + dir + ": manifest sha256 " + actual
                        + " does not match the update's " + expectedManifestSha256);
            }
        }
        if (!Files.exists(dir.resolve("tokenizer.json"))) {
            throw new IllegalArgumentException("policy checkpoint " + dir + " has no tokenizer.json");
        }
        NDManager manager = parent.newSubManager();
        try {
            LlamaModel model = new LlamaModel(bases == null ? LlamaCheckpoint.load(dir, manager, ScoreHead.ABSENT)
                    : bases.load(dir, manager, ScoreHead.ABSENT));
            return new PolicyVersion(version, dir, manager, model, LlamaTokenizer.load(dir), cpuDecode);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public long version() {
        return version;
    }

    public Path dir() {
        return dir;
    }

    public LlamaModel model() {
        return model;
    }

    public LlamaTokenizer tokenizer() {
        return tokenizer;
    }

    /** Whether one-row batches decode on the CPU decoder ({@code policy.cpu-decode} and it could run). */
    public boolean cpuDecoding() {
        return batchOne != null;
    }

    public Generator generator() {
        return generator;
    }

    public SequenceScorer scorer() {
        return scorer;
    }

    @Override
    public void close() {
        if (batchOne != null) {
            batchOne.close();
        }
        tokenizer.close();
        model.close();
        model.weights().close(); // releases a shared base
        manager.close();
    }
}
