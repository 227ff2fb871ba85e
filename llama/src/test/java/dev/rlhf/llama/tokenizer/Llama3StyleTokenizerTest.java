package dev.rlhf.llama.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tokenizer.json shaped like Meta's Llama 3 ones: byte-level BPE (GPT-2's byte-to-unicode alphabet, a regex Split
 * then ByteLevel pre-tokenizer, a ByteLevel decoder), the special tokens added after the vocabulary, and BOS/EOS named
 * in tokenizer_config.json ({@code <|begin_of_text|>}, {@code <|eot_id|>}), not {@code <s>}/{@code </s>}.
 */
class Llama3StyleTokenizerTest {
    @TempDir
    Path dir;

    /** Llama 3's pre-tokenizer regex (tokenizer.json of meta-llama/Llama-3.2-1B). */
    private static final String SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** GPT-2's map from bytes to printable characters, which byte-level BPE vocabularies are written in. */
    static String[] byteAlphabet() {
        String[] out = new String[256];
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            out[b] = String.valueOf((char) (printable ? b : 256 + extra++));
        }
        return out;
    }

    private Path write() throws Exception {
        String[] alphabet = byteAlphabet();
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String c : alphabet) {
            vocab.put(c, vocab.size());
        }
        JsonArray merges = new JsonArray();
        String space = alphabet[' '];
        for (String[] m : List.of(new String[] {"l", "l"}, new String[] {"ll", "o"}, new String[] {"H", "e"},
                new String[] {"He", "llo"}, new String[] {space, "w"}, new String[] {"o", "r"},
                new String[] {space + "w", "or"}, new String[] {space + "wor", "l"}, new String[] {space + "worl", "d"})) {
            vocab.put(m[0] + m[1], vocab.size());
            merges.add(m[0] + " " + m[1]);
        }
        int first = vocab.size();
        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.addProperty("ignore_merges", true);
        model.addProperty("byte_fallback", false);
        JsonObject v = new JsonObject();
        vocab.forEach(v::addProperty);
        model.add("vocab", v);
        model.add("merges", merges);
        JsonObject root = JsonParser.parseString("""
                {"version": "1.0", "truncation": null, "padding": null, "normalizer": null,
                 "added_tokens": [
                   {"id": %d, "content": "<|begin_of_text|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                   {"id": %d, "content": "<|end_of_text|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                   {"id": %d, "content": "<|eot_id|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                   {"type": "Split", "pattern": {"Regex": %s}, "behavior": "Isolated", "invert": false},
                   {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
                 "post_processor": {"type": "TemplateProcessing",
                   "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                   "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                            {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                   "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [%d], "tokens": ["<|begin_of_text|>"]}}},
                 "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}}
                """.formatted(first, first + 1, first + 2, new com.google.gson.Gson().toJson(SPLIT), first))
                .getAsJsonObject();
        root.add("model", model);
        Files.writeString(dir.resolve("tokenizer.json"), root.toString(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "model_max_length": 131072}
                """, StandardCharsets.UTF_8);
        return dir;
    }

    @Test
    void aLlama3StyleTokenizerRoundTripsTextAndFindsItsSpecialTokens() throws Exception {
        write();
        try (LlamaTokenizer tok = LlamaTokenizer.load(dir)) {
            int first = 256 + 9;
            assertEquals(first, tok.bosId(), "BOS from tokenizer_config.json");
            assertEquals(first + 2, tok.eosId(), "EOS <|eot_id|> from tokenizer_config.json");
            int[] hello = tok.encode("Hello world");
            assertEquals(2, hello.length, "merged to 'Hello' and ' world': " + java.util.Arrays.toString(hello));
            assertEquals("Hello world", tok.decode(hello));
            for (String text : List.of("héllo wörld ✓ 123456", "tabs\tand\nnewlines", "emoji 😀!", "")) {
                assertEquals(text, tok.decode(tok.encode(text)), "round trip of '" + text + "'");
            }
            int[] withBos = tok.encodeWithBos("Hello");
            assertEquals(first, withBos[0]);
            assertEquals(1, java.util.Arrays.stream(withBos).filter(id -> id == first).count(), "one BOS");
            assertArrayEquals(new int[] {first + 2}, tok.encode("<|eot_id|>"), "a special token inside text");
            assertTrue(tok.vocabSize() >= first + 3);
        }
    }
}
