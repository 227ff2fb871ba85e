package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.lora.LoraAdapter;
import dev.rlhf.llama.lora.LoraConfig;
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
 * Owns the {@link NDManager} that holds them. With a LoRA adapter attached ({@link #adapter()}), its matrices
 * sit beside the base under PEFT's names without the {@code base_model.model.} prefix
 * ({@code model.layers.N.self_attn.q_proj.lora_A.weight}); then only they and a score head are trainable.
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
    private LoraAdapter adapter;
    /** Tensors owned by another LlamaWeights (a shared base, see {@link #borrowing}): never closed here. */
    private final java.util.Set<String> borrowed = new java.util.HashSet<>();
    private Runnable onClose = () -> { };

    public LlamaWeights(LlamaConfig config, NDManager manager, Map<String, NDArray> tensors) {
        this.config = config;
        this.manager = manager;
        this.tensors = new LinkedHashMap<>(tensors);
    }

    public static String layer(int i, String suffix) {
        return "model.layers." + i + "." + suffix;
    }

    /** The base weight of projection {@code module} (q_proj ... down_proj) in layer {@code i}. */
    public static String projection(int i, String module) {
        boolean mlp = module.equals("gate_proj") || module.equals("up_proj") || module.equals("down_proj");
        return layer(i, (mlp ? "mlp." : "self_attn.") + module + ".weight");
    }

    /** LoRA's A (r x in) of the projection whose base weight is {@code weightName}. */
    public static String loraA(String weightName) {
        return weightName.substring(0, weightName.length() - ".weight".length()) + ".lora_A.weight";
    }

    /** LoRA's B (out x r) of the projection whose base weight is {@code weightName}. */
    public static String loraB(String weightName) {
        return weightName.substring(0, weightName.length() - ".weight".length()) + ".lora_B.weight";
    }

    /** Whether {@code name} is one of an adapter's matrices. */
    public static boolean isLora(String name) {
        return name.endsWith(".lora_A.weight") || name.endsWith(".lora_B.weight");
    }

    /** Names and shapes of an adapter's matrices for this config, layer by layer, A before B. */
    public static Map<String, Shape> adapterShapes(LlamaConfig c, LoraConfig lora) {
        Map<String, Shape> base = expectedShapes(c, false);
        Map<String, Shape> shapes = new LinkedHashMap<>();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            for (String module : lora.targets()) {
                String w = projection(i, module);
                Shape s = base.get(w); // (out, in)
                shapes.put(loraA(w), new Shape(lora.rank(), s.get(1)));
                shapes.put(loraB(w), new Shape(s.get(0), lora.rank()));
            }
        }
        return shapes;
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
        checkShapes(expectedShapes(config, requireScoreHead), tensors, "");
    }

    /** Every expected name is present with its shape; the message names the first that is not. */
    private static void checkShapes(Map<String, Shape> expected, Map<String, NDArray> actual, String what) {
        for (Map.Entry<String, Shape> e : expected.entrySet()) {
            NDArray t = actual.get(e.getKey());
            if (t == null) {
                throw new IllegalArgumentException(what + "missing tensor " + e.getKey() + " (expected shape "
                        + e.getValue() + ")");
            }
            if (!t.getShape().equals(e.getValue())) {
                throw new IllegalArgumentException(what + "tensor " + e.getKey() + " has shape " + t.getShape()
                        + ", expected " + e.getValue());
            }
        }
    }

    /**
     * Weights in {@code manager} that use {@code base}'s tensors without copying or owning them, for an adapter
     * served on a base that several versions share; {@code onClose} runs when these weights close (the share
     * is released). Replacing or removing a borrowed tensor leaves the base's own untouched.
     */
    public static LlamaWeights borrowing(LlamaWeights base, NDManager manager, Runnable onClose) {
        if (base.adapter != null) {
            throw new IllegalArgumentException("a shared base must not carry an adapter");
        }
        LlamaWeights view = new LlamaWeights(base.config, manager, base.tensors);
        view.borrowed.addAll(base.tensors.keySet());
        view.onClose = onClose;
        return view;
    }

    /** The attached LoRA adapter, or null. */
    public LoraAdapter adapter() {
        return adapter;
    }

    /**
     * Attaches a new adapter as PEFT initialises one: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with
     * a = sqrt(5)), B = 0, so the model's outputs do not change. Seeded in Java, like {@link #randomInit}.
     */
    public void attachNewAdapter(LoraAdapter newAdapter, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, NDArray> matrices = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : adapterShapes(config, newAdapter.config()).entrySet()) {
            Shape shape = e.getValue();
            float[] values = new float[Math.toIntExact(shape.size())];
            if (e.getKey().endsWith(".lora_A.weight")) {
                double bound = 1 / Math.sqrt(shape.get(1));
                SplittableRandom stream = random.split();
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) ((2 * stream.nextDouble() - 1) * bound);
                }
            }
            matrices.put(e.getKey(), Tensors.of(manager, values, shape).toType(dataType(), false));
        }
        attachAdapter(newAdapter, matrices);
    }

    /** Attaches an adapter's matrices (e.g. read from a PEFT directory), checking names and shapes. */
    public void attachAdapter(LoraAdapter newAdapter, Map<String, NDArray> matrices) {
        if (adapter != null) {
            throw new IllegalStateException("an adapter is already attached");
        }
        Map<String, Shape> expected = adapterShapes(config, newAdapter.config());
        checkShapes(expected, matrices, "adapter: ");
        for (String name : matrices.keySet()) {
            if (!expected.containsKey(name)) {
                throw new IllegalArgumentException("adapter: unexpected tensor " + name + " for targets "
                        + newAdapter.config().targets());
            }
        }
        for (Map.Entry<String, Shape> e : expected.entrySet()) {
            NDArray m = matrices.get(e.getKey());
            m.attach(manager);
            m.setName(e.getKey());
            tensors.put(e.getKey(), m);
        }
        adapter = newAdapter;
    }

    /** The adapter's matrices, in order (empty without one). */
    public Map<String, NDArray> adapterTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (isLora(k)) {
                out.put(k, v);
            }
        });
        return out;
    }

    /** The base model's tensors (everything but the adapter's matrices). */
    public Map<String, NDArray> baseTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (!isLora(k)) {
                out.put(k, v);
            }
        });
        return out;
    }

    /**
     * What a learner may train: every tensor, or with an adapter only its matrices and the score head (PEFT's
     * {@code modules_to_save}: the reward model's and PPO's value head).
     */
    public Map<String, NDArray> trainable() {
        if (adapter == null) {
            return tensors();
        }
        Map<String, NDArray> out = adapterTensors();
        if (has(SCORE_HEAD)) {
            out.put(SCORE_HEAD, get(SCORE_HEAD));
        }
        return out;
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
        if (old != null && old != array && !borrowed.remove(name)) {
            old.close();
        }
    }

    public void remove(String name) {
        NDArray old = tensors.remove(name);
        if (old != null && !borrowed.remove(name)) {
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

    /**
     * A deep copy in its own manager (e.g. the frozen reference policy of PPO, or a float64 copy for checks),
     * the adapter included.
     */
    public LlamaWeights copy(NDManager target, DataType dtype) {
        Map<String, NDArray> copies = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray c = e.getValue().toType(dtype, true);
            c.attach(target);
            c.setName(e.getKey());
            copies.put(e.getKey(), c);
        }
        LlamaWeights copy = new LlamaWeights(config, target, copies);
        copy.adapter = adapter;
        return copy;
    }

    /**
     * A copy in {@code target} with the adapter folded in, {@code W' = W + (alpha / r) B A} on each target (the
     * merged model computes what the adapted one does, with no adapter): what {@code rlhf merge-adapter} writes.
     * Without an adapter, a plain copy.
     */
    public LlamaWeights mergedCopy(NDManager target) {
        Map<String, NDArray> merged = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : baseTensors().entrySet()) {
            NDArray w = e.getValue();
            String a = loraA(e.getKey());
            NDArray c;
            if (adapter != null && tensors.containsKey(a)) {
                NDArray delta = get(loraB(e.getKey())).matMul(get(a)).muli(adapter.config().scale());
                c = w.add(delta);
                delta.close();
            } else {
                c = w.duplicate();
            }
            c.attach(target);
            c.setName(e.getKey());
            merged.put(e.getKey(), c);
        }
        return new LlamaWeights(config, target, merged);
    }

    @Override
    public void close() {
        manager.close();
        Runnable release = onClose;
        onClose = () -> { };
        release.run();
    }
}
