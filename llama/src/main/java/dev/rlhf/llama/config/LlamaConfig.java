package dev.rlhf.llama.config;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * LLaMA-2 architecture hyperparameters, read and written as a Hugging Face {@code config.json}
 * ({@code LlamaForCausalLM} field names; LLaMA 2 §2.2, Table 1), with what Llama 3.x configs add: an explicit
 * {@code head_dim}, {@code rope_scaling} ({@link RopeScaling}) and a list of {@code eos_token_id}s, any of which ends
 * generation ({@code eosTokenId} is the first). Fields this implementation cannot honour (another architecture,
 * attention or MLP biases, an unknown rope scaling) are refused by name, never ignored.
 */
public record LlamaConfig(
        int hiddenSize,
        int intermediateSize,
        int numAttentionHeads,
        int numKeyValueHeads,
        int numHiddenLayers,
        int maxPositionEmbeddings,
        double rmsNormEps,
        double ropeTheta,
        int vocabSize,
        boolean tieWordEmbeddings,
        int bosTokenId,
        int eosTokenId,
        int headDim,
        RopeScaling ropeScaling,
        List<Integer> eosTokenIds) {

    /** Llama 3.1's context length (LLaMA 2: 4096); RoPE beyond a config's own context is never extrapolated. */
    public static final int MAX_CONTEXT = 131072;

    /** A LLaMA 2 config: head dimension {@code hiddenSize / numAttentionHeads}, no rope scaling, one EOS id. */
    public LlamaConfig(int hiddenSize, int intermediateSize, int numAttentionHeads, int numKeyValueHeads,
                       int numHiddenLayers, int maxPositionEmbeddings, double rmsNormEps, double ropeTheta,
                       int vocabSize, boolean tieWordEmbeddings, int bosTokenId, int eosTokenId) {
        this(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositionEmbeddings, rmsNormEps, ropeTheta, vocabSize, tieWordEmbeddings, bosTokenId, eosTokenId,
                defaultHeadDim(hiddenSize, numAttentionHeads), null, List.of(eosTokenId));
    }

    private static int defaultHeadDim(int hiddenSize, int heads) {
        return heads > 0 && hiddenSize % heads == 0 ? hiddenSize / heads : 0;
    }

    public LlamaConfig {
        eosTokenIds = eosTokenIds == null ? List.of(eosTokenId) : List.copyOf(eosTokenIds);
        List<String> errors = new ArrayList<>();
        positive(errors, "hidden_size", hiddenSize);
        positive(errors, "intermediate_size", intermediateSize);
        positive(errors, "num_attention_heads", numAttentionHeads);
        positive(errors, "num_key_value_heads", numKeyValueHeads);
        positive(errors, "num_hidden_layers", numHiddenLayers);
        positive(errors, "vocab_size", vocabSize);
        if (maxPositionEmbeddings < 1 || maxPositionEmbeddings > MAX_CONTEXT) {
            errors.add("max_position_embeddings must be in [1, " + MAX_CONTEXT + "], got " + maxPositionEmbeddings);
        }
        if (headDim <= 0) {
            errors.add("head_dim must be > 0 (without head_dim, num_attention_heads (" + numAttentionHeads
                    + ") must divide hidden_size (" + hiddenSize + ")), got " + headDim);
        } else if (headDim % 2 != 0) {
            errors.add("head_dim (" + headDim + ") must be even for rotary embeddings");
        }
        if (numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads != 0) {
            errors.add("num_key_value_heads (" + numKeyValueHeads + ") must divide num_attention_heads ("
                    + numAttentionHeads + ")");
        }
        if (!(rmsNormEps > 0) || !Double.isFinite(rmsNormEps)) {
            errors.add("rms_norm_eps must be a positive finite number, got " + rmsNormEps);
        }
        if (!(ropeTheta > 0) || !Double.isFinite(ropeTheta)) {
            errors.add("rope_theta must be a positive finite number, got " + ropeTheta);
        }
        if (bosTokenId < 0 || bosTokenId >= vocabSize) {
            errors.add("bos_token_id must be in [0, vocab_size), got " + bosTokenId);
        }
        if (eosTokenIds.isEmpty() || eosTokenIds.get(0) != eosTokenId) {
            errors.add("eos_token_id " + eosTokenId + " must be the first of eos_token_ids " + eosTokenIds);
        }
        for (int eos : eosTokenIds) {
            if (eos < 0 || eos >= vocabSize) {
                errors.add("eos_token_id must be in [0, vocab_size), got " + eos);
            }
        }
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException("invalid LLaMA config: " + String.join("; ", errors));
        }
    }

    private static void positive(List<String> errors, String field, int value) {
        if (value <= 0) {
            errors.add(field + " must be > 0, got " + value);
        }
    }

    /** Whether {@code token} ends generation (any of the config's EOS ids). */
    public boolean isEos(int token) {
        return eosTokenIds.contains(token);
    }

    /** Query heads per key/value head (grouped-query attention). */
    public int kvGroups() {
        return numAttentionHeads / numKeyValueHeads;
    }

    public LlamaConfig withVocabSize(int newVocabSize) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositionEmbeddings, rmsNormEps, ropeTheta, newVocabSize, tieWordEmbeddings, bosTokenId, eosTokenId,
                headDim, ropeScaling, eosTokenIds);
    }

    /** The same architecture sized for a tokenizer: its vocabulary size and BOS/EOS ids. */
    public LlamaConfig withTokenizer(int newVocabSize, int bos, int eos) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositionEmbeddings, rmsNormEps, ropeTheta, newVocabSize, tieWordEmbeddings, bos, eos, headDim,
                ropeScaling, List.of(eos));
    }

    public LlamaConfig withMaxPositionEmbeddings(int maxPositions) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositions, rmsNormEps, ropeTheta, vocabSize, tieWordEmbeddings, bosTokenId, eosTokenId, headDim,
                ropeScaling, eosTokenIds);
    }

    /** The same architecture with an explicit head dimension, rope scaling and EOS ids (Llama 3.x). */
    public LlamaConfig withLlama3Fields(int newHeadDim, RopeScaling scaling, List<Integer> eosIds) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositionEmbeddings, rmsNormEps, ropeTheta, vocabSize, tieWordEmbeddings, bosTokenId, eosIds.get(0),
                newHeadDim, scaling, eosIds);
    }

    /** Width of the attention projections' head side: {@code num_attention_heads * head_dim}. */
    public int attentionWidth() {
        return numAttentionHeads * headDim;
    }

    /** Number of parameters of the causal LM (embeddings + blocks + norm + untied head). */
    public long parameterCount() {
        long d = hiddenSize;
        long kv = (long) numKeyValueHeads * headDim;
        long q = attentionWidth();
        long perLayer = d * q * 2 + d * kv * 2 + 3L * d * intermediateSize + 2 * d;
        return vocabSize * d + numHiddenLayers * perLayer + d + (tieWordEmbeddings ? 0 : vocabSize * d);
    }

    /** A named preset or a path to a config.json. */
    public static LlamaConfig preset(String nameOrPath) {
        return switch (nameOrPath) {
            // For tests and the embedded demo: trains in seconds on 2 CPU cores.
            case "tiny" -> new LlamaConfig(64, 172, 4, 2, 2, 256, 1e-5, 10000, 512, false, 1, 2);
            // The demo's default model size.
            case "small" -> new LlamaConfig(128, 344, 4, 2, 4, 512, 1e-5, 10000, 2048, false, 1, 2);
            // karpathy/llama2.c "stories15M" shape, used by the benchmarks.
            case "stories15m" -> new LlamaConfig(288, 768, 6, 6, 6, 256, 1e-5, 10000, 32000, false, 1, 2);
            // A grouped-query variant for the benchmarks (4 query heads per KV head).
            case "gqa" -> new LlamaConfig(512, 1376, 8, 2, 8, 256, 1e-5, 10000, 32000, false, 1, 2);
            default -> {
                Path p = Path.of(nameOrPath);
                if (Files.isDirectory(p)) {
                    p = p.resolve("config.json");
                }
                if (!Files.isRegularFile(p)) {
                    throw new IllegalArgumentException("unknown config '" + nameOrPath
                            + "': not a preset (tiny, small, stories15m, gqa) nor a config.json file");
                }
                yield read(p);
            }
        };
    }

    public static LlamaConfig read(Path configJson) {
        try {
            return fromJson(Files.readString(configJson, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + configJson + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(configJson + ": " + e.getMessage(), e);
        }
    }

    public static LlamaConfig fromJson(String json) {
        JsonObject o;
        try {
            o = JsonParser.parseString(json).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("config.json is not a JSON object: " + e.getMessage(), e);
        }
        refuseUnsupported(o);
        int heads = intField(o, "num_attention_heads", null);
        int hidden = intField(o, "hidden_size", null);
        List<Integer> eos = eosIds(o.get("eos_token_id"));
        return new LlamaConfig(
                hidden,
                intField(o, "intermediate_size", null),
                heads,
                intField(o, "num_key_value_heads", heads), // HF default: multi-head attention
                intField(o, "num_hidden_layers", null),
                intField(o, "max_position_embeddings", 2048),
                doubleField(o, "rms_norm_eps", 1e-6),
                doubleField(o, "rope_theta", 10000.0),
                intField(o, "vocab_size", null),
                o.has("tie_word_embeddings") && o.get("tie_word_embeddings").getAsBoolean(),
                intField(o, "bos_token_id", 1),
                eos.get(0),
                intField(o, "head_dim", defaultHeadDim(hidden, heads)),
                RopeScaling.fromJson(o.get("rope_scaling")),
                eos);
    }

    /** What this implementation does not compute is refused by name rather than silently dropped. */
    private static void refuseUnsupported(JsonObject o) {
        JsonElement arch = o.get("architectures");
        if (arch != null && arch.isJsonArray() && arch.getAsJsonArray().size() > 0) {
            boolean llama = false;
            for (JsonElement a : arch.getAsJsonArray()) {
                llama |= a.isJsonPrimitive() && "LlamaForCausalLM".equals(a.getAsString());
            }
            if (!llama) {
                throw new IllegalArgumentException("config.json: architecture " + arch + " is not supported (only "
                        + "LlamaForCausalLM)");
            }
        }
        JsonElement type = o.get("model_type");
        if (type != null && type.isJsonPrimitive() && !"llama".equals(type.getAsString())) {
            throw new IllegalArgumentException("config.json: model_type '" + type.getAsString() + "' is not "
                    + "supported (only llama)");
        }
        for (String bias : List.of("attention_bias", "mlp_bias")) {
            JsonElement b = o.get(bias);
            if (b != null && b.isJsonPrimitive() && b.getAsJsonPrimitive().isBoolean() && b.getAsBoolean()) {
                throw new IllegalArgumentException("config.json: " + bias + " true is not supported (LLaMA "
                        + "projections have no bias)");
            }
        }
        JsonElement act = o.get("hidden_act");
        if (act != null && act.isJsonPrimitive() && !"silu".equals(act.getAsString())) {
            throw new IllegalArgumentException("config.json: hidden_act '" + act.getAsString() + "' is not "
                    + "supported (only silu)");
        }
    }

    /** {@code eos_token_id}: an integer or a list of them (Llama 3.x: [128001, 128008, 128009]); default 2. */
    private static List<Integer> eosIds(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return List.of(2);
        }
        List<Integer> ids = new ArrayList<>();
        if (e.isJsonArray()) {
            for (JsonElement x : e.getAsJsonArray()) {
                ids.add(integer("eos_token_id", x));
            }
            if (ids.isEmpty()) {
                throw new IllegalArgumentException("config.json: eos_token_id is an empty list");
            }
        } else {
            ids.add(integer("eos_token_id", e));
        }
        return ids;
    }

    private static int intField(JsonObject o, String key, Integer dflt) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            if (dflt == null) {
                throw new IllegalArgumentException("config.json: missing required field " + key);
            }
            return dflt;
        }
        return integer(key, e);
    }

    private static int integer(String key, JsonElement e) {
        try {
            double v = e.getAsDouble();
            if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
                throw new NumberFormatException();
            }
            return (int) v;
        } catch (RuntimeException ex) {
            throw new IllegalArgumentException("config.json: field " + key + " must be an integer, got " + e);
        }
    }

    private static double doubleField(JsonObject o, String key, double dflt) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            return dflt;
        }
        try {
            return e.getAsDouble();
        } catch (RuntimeException ex) {
            throw new IllegalArgumentException("config.json: field " + key + " must be a number, got " + e);
        }
    }

    public String toJson() {
        JsonObject o = new JsonObject();
        JsonElement arch = JsonParser.parseString("[\"LlamaForCausalLM\"]");
        o.add("architectures", arch);
        o.addProperty("model_type", "llama");
        o.addProperty("hidden_size", hiddenSize);
        o.addProperty("intermediate_size", intermediateSize);
        o.addProperty("num_attention_heads", numAttentionHeads);
        o.addProperty("num_key_value_heads", numKeyValueHeads);
        o.addProperty("num_hidden_layers", numHiddenLayers);
        o.addProperty("max_position_embeddings", maxPositionEmbeddings);
        o.addProperty("rms_norm_eps", rmsNormEps);
        o.addProperty("rope_theta", ropeTheta);
        o.addProperty("vocab_size", vocabSize);
        o.addProperty("tie_word_embeddings", tieWordEmbeddings);
        o.addProperty("bos_token_id", bosTokenId);
        if (eosTokenIds.size() == 1) {
            o.addProperty("eos_token_id", eosTokenId);
        } else {
            com.google.gson.JsonArray ids = new com.google.gson.JsonArray();
            eosTokenIds.forEach(ids::add);
            o.add("eos_token_id", ids);
        }
        if (headDim != defaultHeadDim(hiddenSize, numAttentionHeads)) {
            o.addProperty("head_dim", headDim);
        }
        if (ropeScaling != null) {
            o.add("rope_scaling", ropeScaling.toJson());
        }
        o.addProperty("hidden_act", "silu");
        o.addProperty("torch_dtype", "float32");
        Gson gson = new GsonBuilder().setPrettyPrinting().create();
        return gson.toJson(o);
    }

    public void write(Path configJson) throws IOException {
        Files.writeString(configJson, toJson() + "\n", StandardCharsets.UTF_8);
    }
}
