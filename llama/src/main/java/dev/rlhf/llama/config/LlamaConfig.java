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
 * ({@code LlamaForCausalLM} field names; LLaMA 2 §2.2, Table 1).
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
        int eosTokenId) {

    /** LLaMA 2 context length (§2.2); we reject larger configs rather than silently extrapolate RoPE. */
    public static final int MAX_CONTEXT = 4096;

    public LlamaConfig {
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
        if (numAttentionHeads > 0 && hiddenSize % numAttentionHeads != 0) {
            errors.add("num_attention_heads (" + numAttentionHeads + ") must divide hidden_size (" + hiddenSize + ")");
        } else if (numAttentionHeads > 0 && (hiddenSize / numAttentionHeads) % 2 != 0) {
            errors.add("hidden_size / num_attention_heads (" + hiddenSize / numAttentionHeads
                    + ") must be even for rotary embeddings");
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
        if (eosTokenId < 0 || eosTokenId >= vocabSize) {
            errors.add("eos_token_id must be in [0, vocab_size), got " + eosTokenId);
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

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Query heads per key/value head (grouped-query attention). */
    public int kvGroups() {
        return numAttentionHeads / numKeyValueHeads;
    }

    public LlamaConfig withVocabSize(int newVocabSize) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositionEmbeddings, rmsNormEps, ropeTheta, newVocabSize, tieWordEmbeddings, bosTokenId, eosTokenId);
    }

    /** The same architecture sized for a tokenizer: its vocabulary size and BOS/EOS ids. */
    public LlamaConfig withTokenizer(int newVocabSize, int bos, int eos) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositionEmbeddings, rmsNormEps, ropeTheta, newVocabSize, tieWordEmbeddings, bos, eos);
    }

    public LlamaConfig withMaxPositionEmbeddings(int maxPositions) {
        return new LlamaConfig(hiddenSize, intermediateSize, numAttentionHeads, numKeyValueHeads, numHiddenLayers,
                maxPositions, rmsNormEps, ropeTheta, vocabSize, tieWordEmbeddings, bosTokenId, eosTokenId);
    }

    /** Number of parameters of the causal LM (embeddings + blocks + norm + untied head). */
    public long parameterCount() {
        long d = hiddenSize;
        long kv = (long) numKeyValueHeads * headDim();
        long perLayer = d * d * 2 + d * kv * 2 + 3L * d * intermediateSize + 2 * d;
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
        int heads = intField(o, "num_attention_heads", null);
        return new LlamaConfig(
                intField(o, "hidden_size", null),
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
                intField(o, "eos_token_id", 2));
    }

    private static int intField(JsonObject o, String key, Integer dflt) {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) {
            if (dflt == null) {
                throw new IllegalArgumentException("config.json: missing required field " + key);
            }
            return dflt;
        }
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
        o.addProperty("eos_token_id", eosTokenId);
        o.addProperty("hidden_act", "silu");
        o.addProperty("torch_dtype", "float32");
        Gson gson = new GsonBuilder().setPrettyPrinting().create();
        return gson.toJson(o);
    }

    public void write(Path configJson) throws IOException {
        Files.writeString(configJson, toJson() + "\n", StandardCharsets.UTF_8);
    }
}
