package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import dev.rlhf.llama.config.LlamaConfig;
import java.util.List;

/**
 * The LLaMA-2 decoder (LLaMA 2 §2.2): token embeddings, {@code numHiddenLayers} pre-norm blocks
 * {@code h = x + attn(norm(x)); out = h + ffn(norm(h))}, a final RMSNorm, and two heads: the LM head
 * (next-token logits) and the scalar head (reward/value models). Stateless apart from the weights and the
 * RoPE tables; a {@link KvCache} carries decoding state.
 */
public final class LlamaModel implements AutoCloseable {
    /** Additive mask value for disallowed keys: finite, so fully-masked (padding) query rows never give NaN. */
    private static final float MASKED = -1e9f;

    private final LlamaConfig config;
    private final LlamaWeights weights;
    private final RotaryEmbedding rope;
    /** False for the base-model view of weights that carry an adapter ({@link #withoutAdapter()}). */
    private final boolean adapterEnabled;
    /** LoRA dropout on the adapter's input, on only inside a training step ({@link #trainingDropout}). */
    private volatile boolean dropoutOn;

    /** The projections' indexes in {@link dev.rlhf.llama.lora.LoraConfig#ALL_TARGETS}. */
    private static final int Q = 0, K = 1, V = 2, O = 3, GATE = 4, UP = 5, DOWN = 6;
    /**
     * Tensor names per [layer][projection]: the weight, LoRA's A and B. Built once, so a forward pass (a decode
     * step) does no string work to find them.
     */
    private final String[][] weightNames;
    private final String[][] loraANames;
    private final String[][] loraBNames;

    public LlamaModel(LlamaWeights weights) {
        this(weights, true);
    }

    private LlamaModel(LlamaWeights weights, boolean adapterEnabled) {
        this.adapterEnabled = adapterEnabled;
        this.config = weights.config();
        this.weights = weights;
        List<String> modules = dev.rlhf.llama.lora.LoraConfig.ALL_TARGETS;
        this.weightNames = new String[config.numHiddenLayers()][modules.size()];
        this.loraANames = new String[config.numHiddenLayers()][modules.size()];
        this.loraBNames = new String[config.numHiddenLayers()][modules.size()];
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            for (int m = 0; m < modules.size(); m++) {
                weightNames[i][m] = LlamaWeights.projection(i, modules.get(m));
                loraANames[i][m] = LlamaWeights.loraA(weightNames[i][m]);
                loraBNames[i][m] = LlamaWeights.loraB(weightNames[i][m]);
            }
        }
        this.rope = new RotaryEmbedding(weights.manager(), config.maxPositionEmbeddings(), config.headDim(),
                dev.rlhf.llama.config.RopeScaling.inverseFrequencies(config.headDim(), config.ropeTheta(),
                        config.ropeScaling()), weights.dataType());
    }

    public LlamaConfig config() {
        return config;
    }

    public LlamaWeights weights() {
        return weights;
    }

    /**
     * The same weights with the LoRA adapter switched off: the base model, sharing every tensor (PPO's and
     * GRPO's reference pi_0 under LoRA, with no second copy). Closing it leaves the weights open.
     */
    public LlamaModel withoutAdapter() {
        return new LlamaModel(weights, false);
    }

    /**
     * Turns the adapter's {@code lora_dropout} on or off for the forward passes that follow (the learner turns it
     * on for the passes of a training step only; generation, scoring and no-grad passes never drop).
     */
    public void trainingDropout(boolean on) {
        this.dropoutOn = on;
    }

    /** Whether forward passes apply the attached adapter (false without one). */
    public boolean adapterActive() {
        return adapterEnabled && weights.adapter() != null;
    }

    /**
     * Final hidden states after the last norm.
     *
     * @param tokens (B, T) int64 token ids
     * @param positions (B, T) int64 position ids (for left padding: 0 at each row's first real token)
     * @param keyMask (B, past + T) 1 for real tokens, 0 for padding, over every key the queries can see
     * @param cache null for a full (training / scoring) pass; else the past keys/values, advanced by T
     * @return (B, T, D)
     */
    public NDArray hidden(NDArray tokens, NDArray positions, NDArray keyMask, KvCache cache) {
        NDManager m = tokens.getManager();
        long t = tokens.getShape().get(1);
        int past = cache == null ? 0 : cache.length();
        NDArray mask = attentionMask(keyMask, t, past); // (B, 1, 1, T, Tk)
        NDArray[] cs = rope.cosSin(positions); // (B, 1, T, hd) each
        // 1/sqrt(headDim) as a tensor (see Tensors), built once per forward rather than once per layer.
        NDArray scale = Tensors.scalar(m, 1 / Math.sqrt(config.headDim()), weights.dataType());
        Projections proj = new Projections(adapterActive() ? weights.adapter().config() : null,
                adapterActive() ? Tensors.scalar(m, weights.adapter().config().scale(), weights.dataType()) : null,
                adapterActive() && dropoutOn ? (float) weights.adapter().config().dropout() : 0f);
        // torch.embedding, not advanced indexing: DJL's indexer hands autograd an index tensor whose Java-owned
        // buffer can be garbage-collected before backward reads it (seen as NaN embedding gradients).
        NDArray x = Embedding.embedding(tokens, weights.get(LlamaWeights.EMBED), SparseFormat.DENSE)
                .singletonOrThrow(); // (B, T, D)
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            x = decoderLayer(i, x, cs[0], cs[1], mask, scale, cache, proj);
        }
        if (cache != null) {
            cache.advance(Math.toIntExact(t));
        }
        return RmsNorm.forward(x, weights.get(LlamaWeights.FINAL_NORM), config.rmsNormEps());
    }

    /** Next-token logits. hidden: (B, T, D) -> (B, T, V). */
    public NDArray logits(NDArray hidden) {
        return Linear.linear(hidden, weights.lmHead()).singletonOrThrow();
    }

    /** Scalar-head outputs at every position. hidden: (B, T, D) -> (B, T). */
    public NDArray scalarScores(NDArray hidden) {
        return Linear.linear(hidden, weights.get(LlamaWeights.SCORE_HEAD)).singletonOrThrow().squeeze(-1);
    }

    /**
     * The linear projections of one forward pass: {@code W x}, plus {@code (alpha / r) B (A x)} on an adapter's
     * targets (LoRA, Hu et al. 2021, eq. 3). {@code lora} null: no adapter, or switched off.
     */
    private final class Projections {
        /** Per projection: whether the adapter targets it (all false without an adapter, or switched off). */
        private final boolean[] adapted = new boolean[dev.rlhf.llama.lora.LoraConfig.ALL_TARGETS.size()];
        private final NDArray loraScale;
        private final float dropout;

        Projections(dev.rlhf.llama.lora.LoraConfig lora, NDArray loraScale, float dropout) {
            for (int m = 0; lora != null && m < adapted.length; m++) {
                adapted[m] = lora.targets(dev.rlhf.llama.lora.LoraConfig.ALL_TARGETS.get(m));
            }
            this.loraScale = loraScale;
            this.dropout = dropout;
        }

        NDArray apply(NDArray x, int layer, int module) {
            NDArray y = Linear.linear(x, weights.get(weightNames[layer][module])).singletonOrThrow();
            if (!adapted[module]) {
                return y;
            }
            // PEFT's order: B(A(dropout(x))) * scale. The scale multiplies the rank-r intermediate, not the
            // (.., out) result: one small tensor, not a big one.
            NDArray in = dropout > 0 ? ai.djl.nn.norm.Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
            NDArray ax = Linear.linear(in, weights.get(loraANames[layer][module])).singletonOrThrow().mul(loraScale);
            return y.add(Linear.linear(ax, weights.get(loraBNames[layer][module])).singletonOrThrow());
        }
    }

    private NDArray decoderLayer(int i, NDArray x, NDArray cos, NDArray sin, NDArray mask, NDArray scale,
                                 KvCache cache, Projections proj) {
        double eps = config.rmsNormEps();
        NDArray h = x.add(attention(i,
                RmsNorm.forward(x, weights.get(LlamaWeights.layer(i, "input_layernorm.weight")), eps),
                cos, sin, mask, scale, cache, proj));
        NDArray ffnIn = RmsNorm.forward(h, weights.get(LlamaWeights.layer(i, "post_attention_layernorm.weight")), eps);
        return h.add(FeedForward.forward(ffnIn, in -> proj.apply(in, i, GATE),
                in -> proj.apply(in, i, UP), in -> proj.apply(in, i, DOWN)));
    }

    /**
     * Causal self-attention with grouped-query attention: query heads are grouped per KV head by reshaping the
     * queries, so keys and values are never copied per query head.
     */
    private NDArray attention(int i, NDArray x, NDArray cos, NDArray sin, NDArray mask, NDArray scale,
                              KvCache cache, Projections proj) {
        Shape s = x.getShape();
        long b = s.get(0);
        long t = s.get(1);
        int nHeads = config.numAttentionHeads();
        int nKv = config.numKeyValueHeads();
        int groups = config.kvGroups();
        int hd = config.headDim();
        NDArray q = proj.apply(x, i, Q)
                .reshape(b, t, nHeads, hd).transpose(0, 2, 1, 3); // (B, H, T, hd)
        NDArray k = proj.apply(x, i, K)
                .reshape(b, t, nKv, hd).transpose(0, 2, 1, 3); // (B, nKv, T, hd)
        NDArray v = proj.apply(x, i, V)
                .reshape(b, t, nKv, hd).transpose(0, 2, 1, 3); // (B, nKv, T, hd)
        q = RotaryEmbedding.apply(q, cos, sin);
        k = RotaryEmbedding.apply(k, cos, sin);
        if (cache != null) {
            NDArray[] kv = cache.append(i, k, v);
            k = kv[0]; // (B, nKv, Tk, hd)
            v = kv[1];
        }
        long tk = k.getShape().get(2);
        // Head h uses KV head h / groups: (B, H, T, hd) -> (B, nKv, groups * T, hd).
        NDArray qg = q.reshape(b, nKv, (long) groups * t, hd);
        NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2)).mul(scale) // (B, nKv, G*T, Tk)
                .reshape(b, nKv, groups, t, tk).add(mask); // + (B, 1, 1, T, Tk)
        NDArray probs = scores.softmax(-1).reshape(b, nKv, (long) groups * t, tk);
        NDArray out = probs.matMul(v) // (B, nKv, G*T, hd)
                .reshape(b, nHeads, t, hd).transpose(0, 2, 1, 3).reshape(b, t, (long) nHeads * hd); // (B, T, D)
        return proj.apply(out, i, O);
    }

    /**
     * Additive mask (B, 1, 1, T, Tk): query j (absolute position past + j) sees key k iff k <= past + j and key k
     * is not padding.
     */
    private NDArray attentionMask(NDArray keyMask, long t, int past) {
        NDManager m = keyMask.getManager();
        long tk = keyMask.getShape().get(1);
        if (tk != past + t) {
            throw new IllegalArgumentException("keyMask covers " + tk + " keys, expected past " + past + " + " + t);
        }
        float[] causal = new float[Math.toIntExact(t * tk)];
        for (int j = 0; j < t; j++) {
            for (int k = past + j + 1; k < tk; k++) {
                causal[Math.toIntExact(j * tk + k)] = MASKED;
            }
        }
        DataType dtype = weights.dataType();
        NDArray causalMask = Tensors.of(m, causal, new Shape(1, 1, 1, t, tk)).toType(dtype, false);
        NDArray padding = keyMask.toType(dtype, false).sub(1).mul(-MASKED) // 0 real, MASKED pad
                .reshape(keyMask.getShape().get(0), 1, 1, 1, tk);
        return causalMask.add(padding);
    }

    @Override
    public void close() {
        rope.close();
    }
}
