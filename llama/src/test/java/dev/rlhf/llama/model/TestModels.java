package dev.rlhf.llama.model;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.config.LlamaConfig;

/** Small random models for tests. */
public final class TestModels {
    private TestModels() {}

    /** 2 layers, GQA (4 query heads over 2 KV heads), vocab 97: fast on CPU, exercises every code path. */
    public static LlamaConfig tinyGqa() {
        return new LlamaConfig(32, 48, 4, 2, 2, 64, 1e-5, 10000, 97, false, 1, 2);
    }

    public static LlamaModel randomModel(NDManager parent, LlamaConfig config, long seed) {
        LlamaWeights w = LlamaWeights.randomInit(config, parent.newSubManager(), seed, true);
        return new LlamaModel(w);
    }
}
