package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.LlamaConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The parameters of a LLaMA model, keyed by their Hugging Face checkpoint names
 * ({@code model.layers.N.self_attn.q_proj.weight}, ...), so loading a checkpoint is a lookup.
 * Owns the {@link NDManager} that holds them.
 */
public final class LlamaWeights implements AutoCloseable {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";
    /** Scalar head of reward and value models (HF {@code LlamaForSequenceClassification} with one label). */
    public static final String SCORE_HEAD = "score.weight";

    /** Standard deviation of the random init, as HF's {@code initializer_range} default. */
    public static final double INIT_STD = 0.02;

    private final LlamaConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> tensors;

    public LlamaWeights(LlamaConfig config, NDManager manager, Map<String, NDArray> tensors) {
        this.config = config;
        this.manager = manager;
        this.tensors = new LinkedHashMap<>(tensors);
    }

    public static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    /** Expected tensor names and shapes of a causal LM with this config (plus the score head if asked). */
    public static Map<String, Shape> expectedShapes(LlamaConfig c, boolean withScoreHead) {
        long d = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long q = c.attentionWidth(); // num_attention_heads * head_dim (= d unless head_dim is explicit)
        long inter = c.intermediateSize();
        Map<String, Shape> shapes = new LinkedHashMap<>();
        shapes.put(EMBED, new Shape(c.vocabSize(), d));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            shapes.put(layer(i, "input_layernorm.weight"), new Shape(d));
            shapes.put(layer(i, "self_attn.q_proj.weight"), new Shape(q, d));
            shapes.put(layer(i, "self_attn.k_proj.weight"), new Shape(kv, d));
            shapes.put(layer(i, "self_attn.v_proj.weight"), new Shape(kv, d));
            shapes.put(layer(i, "self_attn.o_proj.weight"), new Shape(d, q));
            shapes.put(layer(i, "post_attention_layernorm.weight"), new Shape(d));
            shapes.put(layer(i, "mlp.gate_proj.weight"), new Shape(inter, d));
            shapes.put(layer(i, "mlp.up_proj.weight"), new Shape(inter, d));
            shapes.put(layer(i, "mlp.down_proj.weight"), new Shape(d, inter));
        }
        shapes.put(FINAL_NORM, new Shape(d));
        if (!c.tieWordEmbeddings()) {
            shapes.put(LM_HEAD, new Shape(c.vocabSize(), d));
        }
        if (withScoreHead) {
            shapes.put(SCORE_HEAD, new Shape(1, d));
        }
        return shapes;
    }

    /** True for RMSNorm gains: the recipe applies no weight decay to them. */
    public static boolean isNorm(String name) {
        return name.endsWith("layernorm.weight") || name.equals(FINAL_NORM);
    }

    /**
     * Random init as HF Llama: linear and embedding weights ~ N(0, 0.02), norms = 1. Generated in Java from a
     * seeded {@link SplittableRandom} so the same seed gives the same model on any engine or device.
     */
    public static LlamaWeights randomInit(LlamaConfig config, NDManager manager, long seed, boolean withScoreHead) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : expectedShapes(config, withScoreHead).entrySet()) {
            Shape shape = e.getValue();
            float[] values = new float[Math.toIntExact(shape.size())];
            if (isNorm(e.getKey())) {
                Arrays.fill(values, 1f);
            } else {
                SplittableRandom stream = random.split(); // one stream per tensor: adding a tensor keeps others
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) (gaussian(stream) * INIT_STD);
                }
            }
            NDArray array = Tensors.of(manager, values, shape);
            array.setName(e.getKey());
            tensors.put(e.getKey(), array);
        }
        return new LlamaWeights(config, manager, tensors);
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller: SplittableRandom has no nextGaussian on Java 17.
        double u1 = 1.0 - r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Checks names and shapes against the config; the message names the first offending tensor. */
    public void validate(boolean requireScoreHead) {
        Map<String, Shape> expected = expectedShapes(config, requireScoreHead);
        for (Map.Entry<String, Shape> e : expected.entrySet()) {
            NDArray t = tensors.get(e.getKey());
            if (t == null) {
                throw new IllegalArgumentException("missing tensor " + e.getKey() + " (expected shape "
                        + e.getValue() + ")");
            }
            if (!t.getShape().equals(e.getValue())) {
                throw new IllegalArgumentException("tensor " + e.getKey() + " has shape " + t.getShape()
                        + ", expected " + e.getValue());
            }
        }
    }

    public LlamaConfig config() {
        return config;
    }

    public NDManager manager() {
        return manager;
    }

    public NDArray get(String name) {
        NDArray t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor named " + name);
        }
        return t;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** The LM head, or the embedding matrix when tied. (V, D) */
    public NDArray lmHead() {
        return config.tieWordEmbeddings() ? get(EMBED) : get(LM_HEAD);
    }

    public Map<String, NDArray> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    /** Adds or replaces a tensor (e.g. a fresh score head on an SFT checkpoint). */
    public void put(String name, NDArray array) {
        NDArray old = tensors.put(name, array);
        if (old != null && old != array) {
            old.close();
        }
    }

    public void remove(String name) {
        NDArray old = tensors.remove(name);
        if (old != null) {
            old.close();
        }
    }

    public DataType dataType() {
        return get(EMBED).getDataType();
    }

    /** The trainable tensors, in checkpoint order. */
    public List<NDArray> parameters() {
        return new ArrayList<>(tensors.values());
    }

    /** A deep copy in its own manager (e.g. the frozen reference policy of PPO, or a float64 copy for checks). */
    public LlamaWeights copy(NDManager target, DataType dtype) {
        Map<String, NDArray> copies = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray c = e.getValue().toType(dtype, true);
            c.attach(target);
            c.setName(e.getKey());
            copies.put(e.getKey(), c);
        }
        return new LlamaWeights(config, target, copies);
    }

    @Override
    public void close() {
        manager.close();
    }
}
