package dev.rlhf.llama.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.llama.io.CheckpointException;
import dev.rlhf.llama.io.DType;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.io.SafeTensors;
import dev.rlhf.llama.io.ShardedSafeTensors;
import dev.rlhf.llama.io.TensorData;
import dev.rlhf.llama.lora.LoraAdapter;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.Tensors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A LoRA adapter directory in PEFT's format, the one TRL, vLLM and PEFT itself read: {@code adapter_config.json}
 * ({@code peft_type} LORA, {@code r}, {@code lora_alpha}, {@code lora_dropout}, {@code target_modules},
 * {@code bias} "none", {@code base_model_name_or_path}) and {@code adapter_model.safetensors} with PEFT's names
 * ({@code base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight}; a trained score head as
 * {@code base_model.model.score.weight}, PEFT's {@code modules_to_save}). Ours add {@code manifest.json} with the
 * base's fingerprint, so an adapter is never applied to another base. PEFT features we do not implement are
 * refused by name rather than ignored.
 */
public final class AdapterCheckpoint {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** PEFT's prefix: the PeftModel wraps the LoraModel wraps the HF model. */
    public static final String PREFIX = "base_model.model.";
    /** Manifest metadata key holding the base's fingerprint. */
    public static final String BASE_SHA256 = "base_sha256";

    private AdapterCheckpoint() {}

    /** A new adapter's description for the base checkpoint in {@code base}: its path and fingerprint. */
    public static LoraAdapter newAdapter(Path base, LoraConfig config) {
        return new LoraAdapter(config, base.toAbsolutePath().normalize().toString(), baseFingerprint(base));
    }

    /** Whether {@code dir} holds an adapter rather than a full checkpoint. */
    public static boolean isAdapter(Path dir) {
        return Files.isRegularFile(dir.resolve(CONFIG_FILE)) && !Files.exists(dir.resolve(LlamaCheckpoint.CONFIG_FILE));
    }

    /**
     * The base's fingerprint: sha256 over the sha256 of its {@code config.json} and weight files (sorted by name),
     * taken from its manifest when it has one (the same digests it verifies on load), else hashed here. The
     * tokenizer and our metadata do not enter it.
     */
    public static String baseFingerprint(Path base) {
        Map<String, String> digests = new TreeMap<>();
        if (Files.exists(base.resolve(Manifest.FILE_NAME))) {
            Manifest.read(base).files().forEach((name, sha) -> {
                if (isModelFile(name)) {
                    digests.put(name, sha);
                }
            });
        } else {
            try (var files = Files.list(base)) {
                files.filter(p -> isModelFile(p.getFileName().toString()))
                        .forEach(p -> digests.put(p.getFileName().toString(), Manifest.sha256(p)));
            } catch (IOException e) {
                throw new CheckpointException("checkpoint " + base + ": cannot list: " + e.getMessage(), e);
            }
        }
        if (!digests.containsKey(LlamaCheckpoint.CONFIG_FILE)) {
            throw new CheckpointException("checkpoint " + base + ": missing " + LlamaCheckpoint.CONFIG_FILE);
        }
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            digests.forEach((name, sha) -> md.update((name + " " + sha + "\n").getBytes(StandardCharsets.UTF_8)));
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime must provide SHA-256", e);
        }
    }

    private static boolean isModelFile(String name) {
        return name.equals(LlamaCheckpoint.CONFIG_FILE) || (name.startsWith("model") && name.endsWith(".safetensors"))
                || name.equals(ShardedSafeTensors.INDEX_FILE);
    }

    /** Writes the adapter files of {@code weights} (its matrices and, when present, its score head) into dir. */
    static void writeFiles(LlamaWeights weights, Path dir, DType dtype) throws IOException {
        LoraAdapter adapter = weights.adapter();
        LoraConfig c = adapter.config();
        boolean score = weights.has(LlamaWeights.SCORE_HEAD);
        JsonObject json = new JsonObject();
        json.addProperty("peft_type", "LORA");
        json.addProperty("task_type", score ? "SEQ_CLS" : "CAUSAL_LM");
        json.addProperty("base_model_name_or_path", adapter.baseModel());
        json.addProperty("r", c.rank());
        json.addProperty("lora_alpha", c.alpha());
        json.addProperty("lora_dropout", c.dropout());
        JsonArray targets = new JsonArray();
        c.targets().forEach(targets::add);
        json.add("target_modules", targets);
        json.addProperty("bias", "none");
        json.addProperty("fan_in_fan_out", false);
        json.addProperty("use_rslora", false);
        json.addProperty("use_dora", false);
        json.addProperty("inference_mode", true);
        if (score) {
            JsonArray modules = new JsonArray();
            modules.add("score");
            json.add("modules_to_save", modules);
        } else {
            json.add("modules_to_save", com.google.gson.JsonNull.INSTANCE);
        }
        Files.writeString(dir.resolve(CONFIG_FILE),
                new GsonBuilder().setPrettyPrinting().create().toJson(json) + "\n", StandardCharsets.UTF_8);
        Map<String, NDArray> saved = new LinkedHashMap<>();
        weights.adapterTensors().forEach((name, t) -> saved.put(PREFIX + name, t));
        if (score) {
            saved.put(PREFIX + LlamaWeights.SCORE_HEAD, weights.get(LlamaWeights.SCORE_HEAD));
        }
        SafeTensors.write(dir.resolve(WEIGHTS_FILE), LlamaCheckpoint.toTensorData(saved, dtype),
                Map.of("format", "pt"));
    }

    /** The metadata our manifest records for an adapter: the base's fingerprint beside the caller's fields. */
    static JsonObject manifestMetadata(LlamaWeights weights, JsonObject metadata) {
        JsonObject m = metadata.deepCopy();
        if (weights.adapter().baseSha256() != null) {
            m.addProperty(BASE_SHA256, weights.adapter().baseSha256());
        }
        m.addProperty("adapter", weights.adapter().config().toString());
        return m;
    }

    /** What an adapter directory's config says. */
    public record Parsed(LoraConfig config, String baseModel, String baseSha256, boolean scoreHead) {}

    /**
     * Reads and checks {@code adapter_config.json} (and our manifest, verified, when present). Refused by name:
     * another peft_type, DoRA, rsLoRA, bias other than "none", fan_in_fan_out, per-layer rank or alpha
     * patterns, layers_to_transform, target modules outside the seven projections, modules_to_save other than
     * the score head.
     */
    public static Parsed read(Path dir) {
        return read(dir, true);
    }

    /**
     * As {@link #read(Path)}; without {@code verifyFiles} the manifest is read but the files are not hashed, for
     * callers that only need the config (a base's config, the base an update names), not the tensors.
     */
    public static Parsed read(Path dir, boolean verifyFiles) {
        Path file = dir.resolve(CONFIG_FILE);
        JsonObject json;
        try {
            JsonElement root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
            if (!root.isJsonObject()) {
                throw new CheckpointException("adapter " + dir + ": " + CONFIG_FILE + " is not a JSON object");
            }
            json = root.getAsJsonObject();
        } catch (IOException | com.google.gson.JsonParseException e) {
            throw new CheckpointException("adapter " + dir + ": cannot read " + CONFIG_FILE + ": " + e.getMessage(), e);
        }
        String baseSha = null;
        if (Files.exists(dir.resolve(Manifest.FILE_NAME))) {
            Manifest manifest = Manifest.read(dir);
            if (verifyFiles) {
                manifest.verify(dir);
            }
            JsonElement sha = manifest.metadata().get(BASE_SHA256);
            baseSha = sha == null || sha.isJsonNull() ? null : sha.getAsString();
        }
        String where = "adapter " + dir + ": " + CONFIG_FILE + ": ";
        String type = string(json, "peft_type", "LORA");
        if (!type.equals("LORA")) {
            throw new CheckpointException(where + "peft_type " + type + " is not supported (only LORA)");
        }
        refuseTrue(json, "use_dora", where, "DoRA");
        refuseTrue(json, "use_rslora", where, "rsLoRA scaling (alpha / sqrt(r))");
        refuseTrue(json, "fan_in_fan_out", where, "fan_in_fan_out (Conv1D-style weights)");
        String bias = string(json, "bias", "none");
        if (!bias.equals("none")) {
            throw new CheckpointException(where + "bias \"" + bias + "\" is not supported (only \"none\")");
        }
        for (String pattern : List.of("rank_pattern", "alpha_pattern")) {
            JsonElement p = json.get(pattern);
            if (p != null && !p.isJsonNull() && !(p.isJsonObject() && p.getAsJsonObject().size() == 0)) {
                throw new CheckpointException(where + pattern + " (per-module rank or alpha) is not supported");
            }
        }
        for (String unsupported : List.of("layers_to_transform", "layers_pattern", "layer_replication",
                "megatron_config")) {
            JsonElement p = json.get(unsupported);
            if (p != null && !p.isJsonNull() && !(p.isJsonArray() && p.getAsJsonArray().size() == 0)) {
                throw new CheckpointException(where + unsupported + " is not supported");
            }
        }
        JsonElement init = json.get("init_lora_weights");
        if (init != null && init.isJsonPrimitive() && init.getAsJsonPrimitive().isString()) {
            // loftq, pissa, olora, ... change how the base is read (PiSSA/OLoRA rewrite W), not just the init.
            throw new CheckpointException(where + "init_lora_weights \"" + init.getAsString() + "\" is not supported");
        }
        List<String> targets = new ArrayList<>();
        JsonElement tm = json.get("target_modules");
        if (tm == null || tm.isJsonNull()) {
            throw new CheckpointException(where + "target_modules is missing");
        } else if (tm.isJsonPrimitive()) {
            if (!tm.getAsString().equals("all-linear")) {
                throw new CheckpointException(where + "target_modules \"" + tm.getAsString()
                        + "\" (a regular expression) is not supported; list the modules");
            }
            targets.addAll(LoraConfig.ALL_TARGETS);
        } else {
            for (JsonElement t : tm.getAsJsonArray()) {
                String name = t.getAsString();
                if (!LoraConfig.ALL_TARGETS.contains(name)) {
                    throw new CheckpointException(where + "target module '" + name + "' is not supported; supported: "
                            + LoraConfig.ALL_TARGETS);
                }
                targets.add(name);
            }
        }
        boolean score = false;
        JsonElement mts = json.get("modules_to_save");
        if (mts != null && !mts.isJsonNull()) {
            for (JsonElement m : mts.getAsJsonArray()) {
                if (!m.getAsString().equals("score")) {
                    throw new CheckpointException(where + "modules_to_save '" + m.getAsString()
                            + "' is not supported (only score, the scalar head)");
                }
                score = true;
            }
        }
        try {
            LoraConfig config = new LoraConfig(json.get("r").getAsInt(), json.get("lora_alpha").getAsDouble(),
                    json.has("lora_dropout") ? json.get("lora_dropout").getAsDouble() : 0, targets);
            return new Parsed(config, string(json, "base_model_name_or_path", ""), baseSha, score);
        } catch (RuntimeException e) {
            throw new CheckpointException(where + e.getMessage(), e);
        }
    }

    /**
     * The base directory an adapter names: {@code override} when given, else its {@code base_model_name_or_path}
     * (a relative path resolved against the adapter's directory).
     */
    public static Path baseDirectory(Path adapterDir, Parsed parsed, Path override) {
        if (override != null) {
            return override;
        }
        String name = parsed.baseModel();
        Path base = name.isEmpty() ? null : adapterDir.resolve(name);
        if (base == null || !Files.isDirectory(base)) {
            throw new CheckpointException("adapter " + adapterDir + " names base '" + name
                    + "', which is not a local directory; give the base model's directory (--model DIR --adapter "
                    + adapterDir + ")");
        }
        return base;
    }

    /**
     * Loads {@code base} and attaches the adapter in {@code adapterDir}, refusing one whose recorded base
     * fingerprint differs from the base's. The adapter's score head, when it has one, replaces the base's.
     */
    static LlamaWeights load(Path adapterDir, Path baseOverride, NDManager manager, LlamaCheckpoint.ScoreHead scoreHead) {
        Parsed parsed = read(adapterDir);
        Path base = baseDirectory(adapterDir, parsed, baseOverride);
        String fingerprint = checkedFingerprint(adapterDir, parsed, base);
        LlamaWeights weights = LlamaCheckpoint.loadFull(base, manager, parsed.scoreHead()
                ? LlamaCheckpoint.ScoreHead.ABSENT : LlamaCheckpoint.ScoreHead.OPTIONAL);
        return attach(weights, adapterDir, parsed, base, fingerprint, scoreHead);
    }

    /** The base's fingerprint, after refusing a base that is itself an adapter or is not the one recorded. */
    static String checkedFingerprint(Path adapterDir, Parsed parsed, Path base) {
        if (isAdapter(base)) {
            throw new CheckpointException("adapter " + adapterDir + ": its base " + base
                    + " is itself an adapter; merge it first (rlhf merge-adapter)");
        }
        String fingerprint = baseFingerprint(base);
        if (parsed.baseSha256() != null && !parsed.baseSha256().equals(fingerprint)) {
            throw new CheckpointException("adapter " + adapterDir + " was made for a base with fingerprint "
                    + parsed.baseSha256() + ", but " + base + " has " + fingerprint + " (another base model)");
        }
        return fingerprint;
    }

    /** Reads the adapter's tensors into {@code weights} (the base, owned or borrowed); closes them on failure. */
    static LlamaWeights attach(LlamaWeights weights, Path adapterDir, Parsed parsed, Path base, String fingerprint,
                               LlamaCheckpoint.ScoreHead scoreHead) {
        try {
            Map<String, TensorData> tensors = SafeTensors.read(adapterDir.resolve(WEIGHTS_FILE)).tensors();
            Map<String, NDArray> matrices = new LinkedHashMap<>();
            NDArray score = null;
            for (TensorData t : tensors.values()) {
                if (!t.name().startsWith(PREFIX)) {
                    throw new CheckpointException("adapter " + adapterDir + ": tensor " + t.name()
                            + " does not start with " + PREFIX);
                }
                String name = t.name().substring(PREFIX.length());
                NDArray a = Tensors.of(weights.manager(), t.toFloatArray(), new Shape(t.shape()));
                if (name.equals(LlamaWeights.SCORE_HEAD) && parsed.scoreHead()) {
                    score = a;
                } else {
                    matrices.put(name, a);
                }
            }
            if (parsed.scoreHead() && score == null) {
                throw new CheckpointException("adapter " + adapterDir + ": modules_to_save names score but "
                        + WEIGHTS_FILE + " has no " + PREFIX + LlamaWeights.SCORE_HEAD);
            }
            weights.attachAdapter(new LoraAdapter(parsed.config(), base.toString(), fingerprint), matrices);
            if (score != null) {
                if (!score.getShape().equals(new Shape(1, weights.config().hiddenSize()))) {
                    throw new CheckpointException("adapter " + adapterDir + ": score head has shape " + score.getShape()
                            + ", expected (1, " + weights.config().hiddenSize() + ")");
                }
                score.setName(LlamaWeights.SCORE_HEAD);
                weights.put(LlamaWeights.SCORE_HEAD, score);
            }
            LlamaCheckpoint.applyScoreHead(weights, scoreHead, adapterDir);
            return weights;
        } catch (IllegalArgumentException e) {
            weights.close();
            throw new CheckpointException("adapter " + adapterDir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private static String string(JsonObject json, String key, String otherwise) {
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? otherwise : e.getAsString();
    }

    private static void refuseTrue(JsonObject json, String key, String where, String what) {
        JsonElement e = json.get(key);
        if (e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean() && e.getAsBoolean()) {
            throw new CheckpointException(where + key + ": " + what + " is not supported");
        }
    }
}
