package dev.rlhf.llama.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A LLaMA tokenizer loaded from any Hugging Face tokenizer.json, ours or Meta's, through DJL's
 * binding of the Rust tokenizers library.
 */
public final class LlamaTokenizer implements AutoCloseable {

    private final Path file;
    private final HuggingFaceTokenizer hf;
    private final String[] tokens;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int sepId;

    private LlamaTokenizer(
            Path file, HuggingFaceTokenizer hf, String[] tokens, int bosId, int eosId, int padId, int sepId) {
        this.file = file;
        this.hf = hf;
        this.tokens = tokens;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.sepId = sepId;
    }

    /**
     * Loads {@code tokenizer.json} from a directory, or the given file itself.
     *
     * <p>The native tokenizer is built with special tokens off, so the file's post-processor never
     * runs: whether it adds {@code <s>} (LLaMA's and ours do) or not, {@link #encode} returns no
     * special tokens and {@link #encodeWithBos} adds exactly one BOS. Special-token strings inside the
     * text (such as {@code "</s>"}) are still matched as those tokens, as in Hugging Face.
     *
     * <p>Special ids are looked up by token string; the names come from {@code tokenizer_config.json}
     * next to the file when it has them, else from {@link SpecialTokens}. BOS and EOS must exist; pad
     * and separator fall back to EOS (see {@link #padId()} and {@link #sepId()}).
     *
     * @throws IllegalArgumentException naming the path if the file is missing or not a valid tokenizer
     */
    public static LlamaTokenizer load(Path dirOrFile) {
        Path file = Files.isDirectory(dirOrFile) ? dirOrFile.resolve("tokenizer.json") : dirOrFile;
        file = file.toAbsolutePath();
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("tokenizer.json not found: " + file);
        }
        Map<String, Integer> ids = new HashMap<>();
        String[] tokens;
        try {
            JsonObject json = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
            tokens = readVocabulary(json, ids);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("invalid tokenizer file " + file + ": " + e.getMessage(), e);
        }
        JsonObject config = readConfig(file.resolveSibling("tokenizer_config.json"));

        int bos = requireToken(ids, configToken(config, "bos_token", SpecialTokens.BOS), "BOS", file);
        int eos = requireToken(ids, configToken(config, "eos_token", SpecialTokens.EOS), "EOS", file);
        int pad = ids.getOrDefault(configToken(config, "pad_token", SpecialTokens.PAD), eos);
        int sep = ids.getOrDefault(configToken(config, "sep_token", SpecialTokens.SEP), eos);

        HuggingFaceTokenizer loaded;
        try {
            loaded = HuggingFaceTokenizer.builder()
                    .optTokenizerPath(file)
                    // BOS is ours to add (see class comment), and callers see every token: no truncation or padding.
                    .optAddSpecialTokens(false)
                    .optTruncation(false)
                    .optPadding(false)
                    .build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("invalid tokenizer file " + file + ": " + e.getMessage(), e);
        }
        return new LlamaTokenizer(file, loaded, tokens, bos, eos, pad, sep);
    }

    /** Token strings by id, from the model vocabulary plus added tokens; fills {@code ids} inversely. */
    private static String[] readVocabulary(JsonObject json, Map<String, Integer> ids) {
        JsonObject model = json.getAsJsonObject("model");
        if (model == null || !model.has("vocab")) {
            throw new IllegalArgumentException("no model.vocab");
        }
        JsonElement vocab = model.get("vocab");
        if (vocab.isJsonObject()) {
            for (Map.Entry<String, JsonElement> entry : vocab.getAsJsonObject().entrySet()) {
                ids.put(entry.getKey(), entry.getValue().getAsInt());
            }
        } else {
            // Unigram models list [piece, score] pairs; the id is the position.
            JsonArray pieces = vocab.getAsJsonArray();
            for (int id = 0; id < pieces.size(); id++) {
                ids.put(pieces.get(id).getAsJsonArray().get(0).getAsString(), id);
            }
        }
        JsonArray added = json.has("added_tokens") && json.get("added_tokens").isJsonArray()
                ? json.getAsJsonArray("added_tokens")
                : new JsonArray();
        for (JsonElement element : added) {
            JsonObject token = element.getAsJsonObject();
            ids.put(token.get("content").getAsString(), token.get("id").getAsInt());
        }
        int size = 0;
        for (int id : ids.values()) {
            if (id < 0) {
                throw new IllegalArgumentException("negative token id " + id);
            }
            size = Math.max(size, id + 1);
        }
        String[] tokens = new String[size];
        ids.forEach((token, id) -> tokens[id] = token);
        return tokens;
    }

    private static JsonObject readConfig(Path path) {
        if (!Files.isRegularFile(path)) {
            return null;
        }
        try {
            return JsonParser.parseString(Files.readString(path, StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("invalid tokenizer config " + path + ": " + e.getMessage(), e);
        }
    }

    /** A token name from the config, which writes it either as a string or as {"content": ...}. */
    private static String configToken(JsonObject config, String key, String fallback) {
        JsonElement value = config == null ? null : config.get(key);
        if (value != null && value.isJsonPrimitive()) {
            return value.getAsString();
        }
        if (value != null && value.isJsonObject() && value.getAsJsonObject().has("content")) {
            return value.getAsJsonObject().get("content").getAsString();
        }
        return fallback;
    }

    private static int requireToken(Map<String, Integer> ids, String token, String role, Path file) {
        Integer id = ids.get(token);
        if (id == null) {
            throw new IllegalArgumentException("invalid tokenizer file " + file + ": no " + role + " token " + token);
        }
        return id;
    }

    /** Token ids of {@code text}, without any special tokens added. */
    public int[] encode(String text) {
        Objects.requireNonNull(text, "text");
        long[] ids = hf.encode(text, false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    /** Token ids of {@code text} with one BOS in front, as LLaMA sees every sequence. */
    public int[] encodeWithBos(String text) {
        int[] ids = encode(text);
        int[] out = new int[ids.length + 1];
        out[0] = bosId;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    /** Text of {@code ids}, leaving out special tokens. */
    public String decode(int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            checkId(ids[i]);
            longs[i] = ids[i];
        }
        return hf.decode(longs, true);
    }

    /** A decoder for streaming generated tokens as text. */
    public IncrementalDecoder incrementalDecoder() {
        return new IncrementalDecoder(this);
    }

    /** A streaming decoder that continues after {@code promptIds} (see {@link IncrementalDecoder}). */
    public IncrementalDecoder incrementalDecoder(int[] promptIds) {
        return new IncrementalDecoder(this, promptIds);
    }

    /** Number of ids, that is, one more than the largest id in the vocabulary or added tokens. */
    public int vocabSize() {
        return tokens.length;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    /**
     * The pad id; EOS when the tokenizer has none, as LLaMA 2 ships none: padded positions are masked
     * out, so any id works, and EOS is the Hugging Face habit.
     */
    public int padId() {
        return padId;
    }

    /**
     * The prompt/answer separator id; EOS when the tokenizer has no {@code <sep>}, so SFT on a stock
     * LLaMA tokenizer separates prompt and answer with end-of-sequence.
     */
    public int sepId() {
        return sepId;
    }

    /** The vocabulary string of one id, in the model's own alphabet (e.g. "Ġthe" or "▁the"). */
    public String tokenText(int id) {
        checkId(id);
        if (tokens[id] == null) {
            throw new IllegalArgumentException("no token with id " + id + " in " + file);
        }
        return tokens[id];
    }

    /** The tokenizer.json this was loaded from. */
    public Path path() {
        return file;
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + tokens.length);
        }
    }

    /** Frees the native tokenizer. */
    @Override
    public void close() {
        hf.close();
    }
}
