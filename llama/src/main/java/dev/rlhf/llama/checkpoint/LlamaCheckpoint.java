package dev.rlhf.llama.checkpoint;

import dev.rlhf.llama.model.Tensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.io.CheckpointException;
import dev.rlhf.llama.io.DType;
import dev.rlhf.llama.io.IoConsumer;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.io.ShardedSafeTensors;
import dev.rlhf.llama.io.TensorData;
import dev.rlhf.llama.model.LlamaWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model checkpoint directory in the Hugging Face layout (DESIGN.md §3): {@code config.json},
 * {@code model.safetensors} or shards with {@code model.safetensors.index.json}, optional tokenizer files,
 * and our {@code manifest.json} (sha256 per file, step, metadata). Written into a temp dir and renamed
 * atomically; read with checksum verification when a manifest is present.
 */
public final class LlamaCheckpoint {
    public static final String CONFIG_FILE = "config.json";

    private LlamaCheckpoint() {}

    /** How to write: tensor dtype on disk, shard size (0 = one file), step, free-form metadata, extra files. */
    public record SaveOptions(DType dtype, long maxShardBytes, long step, JsonObject metadata,
                              IoConsumer<Path> extraFiles, boolean replace) {
        public static SaveOptions defaults(long step) {
            return new SaveOptions(DType.F32, 0, step, new JsonObject(), dir -> { }, false);
        }

        public SaveOptions withMetadata(JsonObject m) {
            return new SaveOptions(dtype, maxShardBytes, step, m, extraFiles, replace);
        }

        public SaveOptions withExtraFiles(IoConsumer<Path> files) {
            return new SaveOptions(dtype, maxShardBytes, step, metadata, files, replace);
        }

        public SaveOptions withDtype(DType d, long shardBytes) {
            return new SaveOptions(d, shardBytes, step, metadata, extraFiles, replace);
        }

        public SaveOptions replacing() {
            return new SaveOptions(dtype, maxShardBytes, step, metadata, extraFiles, true);
        }
    }

    /**
     * Writes the checkpoint atomically and returns the final directory. Weights with a LoRA adapter are written
     * as the adapter alone ({@link AdapterCheckpoint}): the base they name stays where it is.
     */
    public static Path save(LlamaWeights weights, Path target, SaveOptions options) {
        if (weights.adapter() != null) {
            return AtomicDirectory.write(target, options.replace(), dir -> {
                AdapterCheckpoint.writeFiles(weights, dir, options.dtype());
                options.extraFiles().accept(dir);
                Manifest.create(dir, options.step(), AdapterCheckpoint.manifestMetadata(weights, options.metadata()))
                        .write(dir);
            });
        }
        List<TensorData> tensors = toTensorData(weights.tensors(), options.dtype());
        return AtomicDirectory.write(target, options.replace(), dir -> {
            weights.config().write(dir.resolve(CONFIG_FILE));
            ShardedSafeTensors.writeCheckpointTensors(dir, tensors,
                    options.maxShardBytes() > 0 ? options.maxShardBytes() : Long.MAX_VALUE,
                    Map.of("format", "pt"));
            options.extraFiles().accept(dir);
            Manifest.create(dir, options.step(), options.metadata()).write(dir);
        });
    }

    /** NDArrays (any float dtype) to safetensors records in the given on-disk dtype. */
    public static List<TensorData> toTensorData(Map<String, NDArray> arrays, DType dtype) {
        List<TensorData> out = new ArrayList<>(arrays.size());
        for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
            NDArray a = e.getValue();
            float[] values = a.getDataType() == DataType.FLOAT32 ? a.toFloatArray()
                    : a.toType(DataType.FLOAT32, false).toFloatArray();
            out.add(TensorData.ofFloats(e.getKey(), a.getShape().getShape(), values, dtype));
        }
        return out;
    }

    /** The config of a checkpoint directory (of an adapter's base for an adapter directory). */
    public static LlamaConfig readConfig(Path dir) {
        if (AdapterCheckpoint.isAdapter(dir)) {
            return readConfig(AdapterCheckpoint.baseDirectory(dir, AdapterCheckpoint.read(dir, false), null));
        }
        Path config = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(config)) {
            throw new CheckpointException("checkpoint " + dir + ": missing " + CONFIG_FILE);
        }
        return LlamaConfig.read(config);
    }

    /**
     * Loads weights into {@code manager} as float32 (F16/BF16 on disk are widened), verifying the manifest
     * when there is one and every tensor's name and shape against config.json.
     *
     * An adapter directory loads the base it names with the adapter attached.
     *
     * @param scoreHead REQUIRED for reward/value models, OPTIONAL to keep one if present, ABSENT to drop it
     */
    public static LlamaWeights load(Path dir, NDManager manager, ScoreHead scoreHead) {
        return load(dir, null, manager, scoreHead);
    }

    /**
     * As {@link #load(Path, NDManager, ScoreHead)} with an adapter: {@code adapter} null loads {@code dir} alone;
     * else {@code dir} is the base the adapter is applied to (an adapter made for another base is refused).
     */
    public static LlamaWeights load(Path dir, Path adapter, NDManager manager, ScoreHead scoreHead) {
        if (adapter != null) {
            if (!AdapterCheckpoint.isAdapter(adapter)) {
                throw new CheckpointException("adapter " + adapter + ": no " + AdapterCheckpoint.CONFIG_FILE
                        + " (or it is a full checkpoint)");
            }
            return AdapterCheckpoint.load(adapter, dir, manager, scoreHead);
        }
        if (AdapterCheckpoint.isAdapter(dir)) {
            return AdapterCheckpoint.load(dir, null, manager, scoreHead);
        }
        return loadFull(dir, manager, scoreHead);
    }

    /**
     * The weights a learner starts from: {@code dir}, and with {@code lora} a new adapter on it (B = 0, so it is
     * still the model in {@code dir}) naming {@code dir} as its base. A directory that already carries an adapter
     * (an adapter directory) keeps that one, which the learner continues.
     */
    public static LlamaWeights loadToTrain(Path dir, NDManager manager, ScoreHead scoreHead,
                                           dev.rlhf.llama.lora.LoraConfig lora, long seed) {
        LlamaWeights weights = load(dir, manager, scoreHead);
        if (lora != null && weights.adapter() == null) {
            try {
                weights.attachNewAdapter(AdapterCheckpoint.newAdapter(dir, lora), seed);
            } catch (RuntimeException e) {
                weights.close();
                throw e;
            }
        }
        return weights;
    }

    /** Enforces {@code scoreHead} on loaded weights: a REQUIRED head that is missing fails, an ABSENT one is dropped. */
    static void applyScoreHead(LlamaWeights weights, ScoreHead scoreHead, Path dir) {
        if (scoreHead == ScoreHead.REQUIRED && !weights.has(LlamaWeights.SCORE_HEAD)) {
            throw new CheckpointException("checkpoint " + dir + ": missing tensor " + LlamaWeights.SCORE_HEAD
                    + " (a reward or value model needs its scalar head)");
        }
        if (scoreHead == ScoreHead.ABSENT) {
            weights.remove(LlamaWeights.SCORE_HEAD);
        }
    }

    static LlamaWeights loadFull(Path dir, NDManager manager, ScoreHead scoreHead) {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException("checkpoint " + dir + " is not a directory");
        }
        if (Files.exists(dir.resolve(Manifest.FILE_NAME))) {
            Manifest.read(dir).verify(dir);
        }
        LlamaConfig config = readConfig(dir);
        Map<String, TensorData> tensors = ShardedSafeTensors.readCheckpointTensors(dir);
        boolean withScore = scoreHead == ScoreHead.REQUIRED
                || (scoreHead == ScoreHead.OPTIONAL && tensors.containsKey(LlamaWeights.SCORE_HEAD));
        Map<String, Shape> expected = LlamaWeights.expectedShapes(config, withScore);
        Map<String, NDArray> arrays = new LinkedHashMap<>();
        NDManager owned = manager.newSubManager();
        try {
            for (Map.Entry<String, Shape> e : expected.entrySet()) {
                String name = e.getKey();
                TensorData t = tensors.get(name);
                if (t == null) {
                    throw new CheckpointException("checkpoint " + dir + ": missing tensor " + name
                            + " (expected shape " + e.getValue() + ")" + fileHint(dir, name));
                }
                if (!Arrays.equals(t.shape(), e.getValue().getShape())) {
                    throw new CheckpointException("checkpoint " + dir + ": tensor " + name + " has shape "
                            + Arrays.toString(t.shape()) + ", expected " + e.getValue() + fileHint(dir, name));
                }
                NDArray a = Tensors.of(owned, t.toFloatArray(), e.getValue());
                a.setName(name);
                arrays.put(name, a);
            }
        } catch (RuntimeException ex) {
            owned.close();
            throw ex;
        }
        return new LlamaWeights(config, owned, arrays);
    }

    /** Whether to load the scalar head ({@code score.weight}). */
    public enum ScoreHead { REQUIRED, OPTIONAL, ABSENT }

    private static String fileHint(Path dir, String tensor) {
        try {
            if (Files.exists(dir.resolve(ShardedSafeTensors.INDEX_FILE))
                    && !Files.exists(dir.resolve(ShardedSafeTensors.SINGLE_FILE))) {
                String file = ShardedSafeTensors.readIndex(dir).weightMap().get(tensor);
                return file == null ? " (not in " + ShardedSafeTensors.INDEX_FILE + ")" : " (in " + file + ")";
            }
            return " (in " + ShardedSafeTensors.SINGLE_FILE + ")";
        } catch (RuntimeException e) {
            return "";
        }
    }

    /** Copies the tokenizer files (tokenizer.json, tokenizer_config.json) of {@code from} into {@code to}. */
    public static void copyTokenizerFiles(Path from, Path to) throws IOException {
        for (String name : List.of("tokenizer.json", "tokenizer_config.json")) {
            Path src = from.resolve(name);
            if (Files.exists(src)) {
                Files.copy(src, to.resolve(name));
            }
        }
    }
}
