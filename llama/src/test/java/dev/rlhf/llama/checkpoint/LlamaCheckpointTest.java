package dev.rlhf.llama.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.io.CheckpointException;
import dev.rlhf.llama.io.DType;
import dev.rlhf.llama.io.SafeTensors;
import dev.rlhf.llama.io.TensorData;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaCheckpointTest {
    @TempDir
    Path tmp;

    private static float[] logits(LlamaModel model, NDManager m) {
        long[] ids = {1, 8, 13, 21, 34, 55};
        Shape s = new Shape(1, ids.length);
        return model.logits(model.hidden(m.create(ids, s), m.arange(0, ids.length, 1, DataType.INT64).reshape(s),
                m.ones(s, DataType.INT32), null)).toFloatArray();
    }

    @Test
    void saveThenLoadGivesIdenticalLogitsAndAHfLayout() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 1);
            Path dir = LlamaCheckpoint.save(model.weights(), tmp.resolve("ckpt"), SaveOptions.defaults(42));
            assertTrue(Files.exists(dir.resolve("config.json")));
            assertTrue(Files.exists(dir.resolve("model.safetensors")));
            assertTrue(Files.exists(dir.resolve("manifest.json")));
            assertTrue(SafeTensors.read(dir.resolve("model.safetensors")).contains("model.layers.1.self_attn.k_proj.weight"));
            LlamaWeights loaded = LlamaCheckpoint.load(dir, m, ScoreHead.OPTIONAL);
            assertEquals(TestModels.tinyGqa(), loaded.config());
            assertTrue(loaded.has(LlamaWeights.SCORE_HEAD));
            assertArrayEquals(logits(model, m), logits(new LlamaModel(loaded), m), 0f);
            // GQA shapes: 2 KV heads x headDim 8 = 16 rows.
            assertEquals(new Shape(16, 32), loaded.get("model.layers.0.self_attn.v_proj.weight").getShape());
        }
    }

    @Test
    void f16ShardedCheckpointsLoadCloseToTheF32Model() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 2);
            Path dir = LlamaCheckpoint.save(model.weights(), tmp.resolve("f16"),
                    SaveOptions.defaults(1).withDtype(DType.F16, 8_000));
            try (Stream<Path> files = Files.list(dir)) {
                long shards = files.filter(p -> p.getFileName().toString().matches("model-\\d+-of-\\d+\\.safetensors"))
                        .count();
                assertTrue(shards > 1, "expected several shards, got " + shards);
            }
            assertTrue(Files.exists(dir.resolve("model.safetensors.index.json")));
            LlamaWeights loaded = LlamaCheckpoint.load(dir, m, ScoreHead.ABSENT);
            assertEquals(DataType.FLOAT32, loaded.dataType());
            float[] a = logits(model, m);
            float[] b = logits(new LlamaModel(loaded), m);
            double maxDiff = 0;
            for (int i = 0; i < a.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
            }
            assertTrue(maxDiff < 1e-2 && maxDiff > 0, "f16 rounding should be small but present: " + maxDiff);
        }
    }

    @Test
    void bf16TensorsLoad() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 3);
            Path dir = LlamaCheckpoint.save(model.weights(), tmp.resolve("bf16"),
                    SaveOptions.defaults(1).withDtype(DType.BF16, 0));
            LlamaWeights loaded = LlamaCheckpoint.load(dir, m, ScoreHead.OPTIONAL);
            float original = model.weights().get(LlamaWeights.EMBED).toFloatArray()[5];
            float roundTrip = loaded.get(LlamaWeights.EMBED).toFloatArray()[5];
            assertEquals(original, roundTrip, Math.abs(original) / 128);

            // A Llama 3.2-style model: tied head, explicit head_dim, llama3 rope scaling, several EOS ids, in BF16.
            dev.rlhf.llama.config.LlamaConfig llama3 = new dev.rlhf.llama.config.LlamaConfig(32, 40, 4, 2, 1, 64,
                    1e-5, 500000, 60, true, 1, 2).withLlama3Fields(12,
                    dev.rlhf.llama.config.RopeScaling.llama3(32, 1, 4, 16), java.util.List.of(2, 5, 7));
            LlamaModel tied = TestModels.randomModel(m, llama3, 4);
            Path tiedDir = LlamaCheckpoint.save(tied.weights(), tmp.resolve("llama3-bf16"),
                    SaveOptions.defaults(1).withDtype(DType.BF16, 0));
            LlamaWeights back = LlamaCheckpoint.load(tiedDir, m, ScoreHead.OPTIONAL);
            assertEquals(llama3, back.config(), "config.json carries head_dim, rope_scaling and the EOS list");
            assertTrue(!back.tensors().containsKey(LlamaWeights.LM_HEAD), "the head is the embedding");
            assertEquals(tied.weights().get(LlamaWeights.EMBED).toFloatArray()[7],
                    back.get(LlamaWeights.EMBED).toFloatArray()[7], 1e-3);
        }
    }

    @Test
    void missingOrMisShapedTensorsAreNamed() throws Exception {
        LlamaConfig config = TestModels.tinyGqa();
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, config, 4);
            Path dir = tmp.resolve("plain");
            Files.createDirectories(dir);
            config.write(dir.resolve("config.json"));
            List<TensorData> tensors = new ArrayList<>(LlamaCheckpoint.toTensorData(model.weights().tensors(), DType.F32));
            tensors.removeIf(t -> t.name().equals("model.layers.1.mlp.up_proj.weight"));
            SafeTensors.write(dir.resolve("model.safetensors"), tensors);
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> LlamaCheckpoint.load(dir, m, ScoreHead.ABSENT));
            assertTrue(e.getMessage().contains("model.layers.1.mlp.up_proj.weight")
                    && e.getMessage().contains("model.safetensors"), e.getMessage());

            tensors.add(TensorData.ofFloats("model.layers.1.mlp.up_proj.weight", new long[] {3, 3}, new float[9]));
            SafeTensors.write(dir.resolve("model.safetensors"), tensors);
            e = assertThrows(CheckpointException.class, () -> LlamaCheckpoint.load(dir, m, ScoreHead.ABSENT));
            assertTrue(e.getMessage().contains("has shape [3, 3], expected (48, 32)"), e.getMessage());
        }
    }

    @Test
    void aCorruptedFileFailsTheChecksumAndNamesTheFile() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            Path dir = LlamaCheckpoint.save(model.weights(), tmp.resolve("c"), SaveOptions.defaults(3));
            byte[] bytes = Files.readAllBytes(dir.resolve("model.safetensors"));
            bytes[bytes.length - 10] ^= 0x55;
            Files.write(dir.resolve("model.safetensors"), bytes);
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> LlamaCheckpoint.load(dir, m, ScoreHead.ABSENT));
            assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        }
    }

    @Test
    void aTruncatedPlainHfCheckpointIsAClearError() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 6);
            Path dir = LlamaCheckpoint.save(model.weights(), tmp.resolve("t"), SaveOptions.defaults(3));
            Files.delete(dir.resolve("manifest.json")); // a plain HF checkpoint has no manifest
            byte[] bytes = Files.readAllBytes(dir.resolve("model.safetensors"));
            Files.write(dir.resolve("model.safetensors"), java.util.Arrays.copyOf(bytes, bytes.length - 100));
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> LlamaCheckpoint.load(dir, m, ScoreHead.ABSENT));
            assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        }
    }
}
