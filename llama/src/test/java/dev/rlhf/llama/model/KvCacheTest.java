package dev.rlhf.llama.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class KvCacheTest {

    @Test
    void incrementalDecodingWithCacheEqualsFullRecompute() {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(manager, TestModels.tinyGqa(), 7);
            int vocab = model.config().vocabSize();
            long[] seq = {1, 17, 42, 5, 88, 23, 61, 9, 30, 77, 12, 3};
            int total = seq.length;
            int prompt = 5;

            // Full pass over the whole sequence: (1, T, V)
            float[] full = model.logits(model.hidden(manager.create(seq, new Shape(1, total)),
                    manager.arange(0, total, 1, DataType.INT64).reshape(1, total),
                    manager.ones(new Shape(1, total), DataType.INT32), null)).toFloatArray();

            // Prefill the prompt, then feed one token at a time through the cache.
            float[] incremental = new float[total * vocab];
            try (KvCache cache = new KvCache(manager, model.config(), 1, total, DataType.FLOAT32)) {
                NDArray pre = model.logits(model.hidden(
                        manager.create(Arrays.copyOf(seq, prompt), new Shape(1, prompt)),
                        manager.arange(0, prompt, 1, DataType.INT64).reshape(1, prompt),
                        manager.ones(new Shape(1, prompt), DataType.INT32), cache));
                System.arraycopy(pre.toFloatArray(), 0, incremental, 0, prompt * vocab);
                for (int t = prompt; t < total; t++) {
                    NDArray step = model.logits(model.hidden(
                            manager.create(new long[] {seq[t]}, new Shape(1, 1)),
                            manager.create(new long[] {t}, new Shape(1, 1)),
                            manager.ones(new Shape(1, t + 1), DataType.INT32), cache));
                    System.arraycopy(step.toFloatArray(), 0, incremental, t * vocab, vocab);
                }
                assertEquals(total, cache.length());
            }
            double maxDiff = 0;
            for (int i = 0; i < full.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(full[i] - incremental[i]));
            }
            assertTrue(maxDiff < 1e-4, "max abs logit difference " + maxDiff);
            // Guard against a vacuous comparison: the logits vary along the sequence.
            NDArray fullArr = manager.create(full).reshape(total, vocab);
            assertTrue(fullArr.get(new NDIndex("0")).sub(fullArr.get(new NDIndex("-1"))).abs().max().getFloat() > 1e-3);
        }
    }
}
