package dev.rlhf.llama.tokenizer;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a tiny tokenizer.json shaped like Meta's LLaMA 2 one on the Hugging Face hub: SentencePiece
 * BPE with "▁" for spaces, byte fallback, a post-processor that adds {@code <s>}, no pad and no sep.
 */
final class LlamaStyleTokenizerFile {

    static final int VOCAB_SIZE = 3 + 256 + 8 + 10;

    private static final List<String[]> MERGES = List.of(
            new String[] {"▁", "h"}, new String[] {"▁", "w"}, new String[] {"l", "l"},
            new String[] {"ll", "o"}, new String[] {"e", "llo"}, new String[] {"▁h", "ello"},
            new String[] {"o", "r"}, new String[] {"▁w", "or"}, new String[] {"▁wor", "l"},
            new String[] {"▁worl", "d"});

    private LlamaStyleTokenizerFile() {}

    static Path write(Path dir) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String special : List.of("<unk>", "<s>", "</s>")) {
            vocab.put(special, vocab.size());
        }
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), vocab.size());
        }
        for (String piece : List.of("▁", "h", "e", "l", "o", "w", "r", "d")) {
            vocab.put(piece, vocab.size());
        }
        JsonArray merges = new JsonArray();
        for (String[] merge : MERGES) {
            vocab.put(merge[0] + merge[1], vocab.size());
            merges.add(merge[0] + " " + merge[1]);
        }

        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.addProperty("unk_token", "<unk>");
        model.addProperty("fuse_unk", true);
        model.addProperty("byte_fallback", true);
        JsonObject vocabJson = new JsonObject();
        vocab.forEach(vocabJson::addProperty);
        model.add("vocab", vocabJson);
        model.add("merges", merges);

        JsonObject root = JsonParser.parseString(
                """
                {
                  "version": "1.0", "truncation": null, "padding": null,
                  "added_tokens": [
                    {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                    {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                    {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
                  ],
                  "normalizer": {"type": "Sequence", "normalizers": [
                    {"type": "Prepend", "prepend": "▁"},
                    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
                  "pre_tokenizer": null,
                  "post_processor": {
                    "type": "TemplateProcessing",
                    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                             {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
                  "decoder": {"type": "Sequence", "decoders": [
                    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                    {"type": "ByteFallback"}, {"type": "Fuse"},
                    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
                }
                """).getAsJsonObject();
        root.add("model", model);

        Gson gson = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tokenizer.json"), gson.toJson(root), StandardCharsets.UTF_8);
        // As on the hub: tokens written as AddedToken objects, and no pad token.
        Files.writeString(dir.resolve("tokenizer_config.json"),
                """
                {
                  "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false},
                  "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false},
                  "unk_token": {"__type": "AddedToken", "content": "<unk>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false},
                  "pad_token": null,
                  "clean_up_tokenization_spaces": false,
                  "tokenizer_class": "LlamaTokenizer"
                }
                """, StandardCharsets.UTF_8);
        return dir;
    }
}
