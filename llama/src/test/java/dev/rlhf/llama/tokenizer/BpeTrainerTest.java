package dev.rlhf.llama.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

class BpeTrainerTest {

    private static final int VOCAB_SIZE = 700;
    private static final List<String> CORPUS = TestCorpus.generate(7, 2_000);

    @TempDir static Path dir;
    private static BpeTrainer trained;

    @BeforeAll
    static void train() throws IOException {
        trained = new BpeTrainer(VOCAB_SIZE).train(CORPUS);
        trained.writeTokenizerJson(dir);
    }

    @Test
    void rejectsVocabularyTooSmallForSpecialsAndBytes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new BpeTrainer(259));
        assertTrue(e.getMessage().contains("260"), e.getMessage());
        new BpeTrainer(260);
    }

    @Test
    void vocabularyHasRequestedSizeWithSpecialsFirstThenBytes() {
        List<String> vocab = trained.vocab();
        assertEquals(VOCAB_SIZE, vocab.size());
        assertEquals(SpecialTokens.ALL, vocab.subList(0, 4));
        assertEquals("!", vocab.get(4 + '!'));
        assertEquals("Ġ", vocab.get(4 + ' '), "space is GPT-2's Ġ");
        // Two merges may spell the same token, so there can be more merges than new tokens, never fewer.
        assertTrue(trained.merges().size() >= VOCAB_SIZE - BpeTrainer.MIN_VOCAB_SIZE);

        try (LlamaTokenizer tokenizer = LlamaTokenizer.load(dir)) {
            assertEquals(VOCAB_SIZE, tokenizer.vocabSize());
            for (int id = 0; id < SpecialTokens.COUNT; id++) {
                assertEquals(SpecialTokens.ALL.get(id), tokenizer.tokenText(id));
            }
            assertEquals(SpecialTokens.PAD_ID, tokenizer.padId());
            assertEquals(SpecialTokens.BOS_ID, tokenizer.bosId());
            assertEquals(SpecialTokens.EOS_ID, tokenizer.eosId());
            assertEquals(SpecialTokens.SEP_ID, tokenizer.sepId());
        }
    }

    @Test
    void sameCorpusGivesByteIdenticalFiles(@TempDir Path again) throws IOException {
        new BpeTrainer(VOCAB_SIZE).train(CORPUS.stream()).writeTokenizerJson(again);
        assertArrayEquals(
                Files.readAllBytes(dir.resolve("tokenizer.json")), Files.readAllBytes(again.resolve("tokenizer.json")));
        assertArrayEquals(
                Files.readAllBytes(dir.resolve("tokenizer_config.json")),
                Files.readAllBytes(again.resolve("tokenizer_config.json")));
    }

    @Test
    void digitsNeverMergeWithAnything() {
        for (String token : trained.vocab()) {
            if (token.length() > 1) {
                assertFalse(token.chars().anyMatch(Character::isDigit), "merged token with a digit: " + token);
            }
        }
    }

    @Test
    void progressCountsUpToTheTotal() {
        List<int[]> reports = new ArrayList<>();
        new BpeTrainer(400, (merges, total) -> reports.add(new int[] {merges, total}))
                .train(CORPUS.subList(0, 200));
        assertTrue(reports.size() > 10, "reports: " + reports.size());
        for (int k = 1; k < reports.size(); k++) {
            assertTrue(reports.get(k)[0] >= reports.get(k - 1)[0]);
            assertEquals(140, reports.get(k)[1]);
        }
        assertArrayEquals(new int[] {140, 140}, reports.get(reports.size() - 1));
    }

    @Test
    void stopsWhenTheCorpusRunsOutOfPairs() {
        BpeTrainer trainer = new BpeTrainer(1000).train(List.of("ab ab ab", "b"));
        // Words are "ab" and "Ġab": merges a+b, then Ġ+ab; nothing is left to pair after that.
        assertEquals(List.of("a b", "Ġ ab"), trainer.merges());
        assertEquals(BpeTrainer.MIN_VOCAB_SIZE + 2, trainer.vocab().size());
    }

    @Test
    void mergesTheMostFrequentPairFirstAndBreaksTiesLexicographically() {
        BpeTrainer trainer = new BpeTrainer(BpeTrainer.MIN_VOCAB_SIZE + 2).train(List.of("xy xy", "cd ab"));
        // "xy" and "Ġxy" give x+y twice; then a+b, c+d, Ġ+a and Ġ+xy tie at one, and "a b" sorts first.
        assertEquals(List.of("x y", "a b"), trainer.merges());
    }

    @Test
    void writesTheHuggingFaceFormatItTrainedFor() throws IOException {
        JsonObject json = JsonParser.parseString(Files.readString(dir.resolve("tokenizer.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        assertTrue(json.get("normalizer").isJsonNull());
        JsonArray preTokenizers = json.getAsJsonObject("pre_tokenizer").getAsJsonArray("pretokenizers");
        assertEquals("Digits", preTokenizers.get(0).getAsJsonObject().get("type").getAsString());
        assertTrue(preTokenizers.get(0).getAsJsonObject().get("individual_digits").getAsBoolean());
        JsonObject byteLevel = preTokenizers.get(1).getAsJsonObject();
        assertEquals("ByteLevel", byteLevel.get("type").getAsString());
        assertFalse(byteLevel.get("add_prefix_space").getAsBoolean());
        assertTrue(byteLevel.get("use_regex").getAsBoolean());
        assertEquals("ByteLevel", json.getAsJsonObject("decoder").get("type").getAsString());
        JsonObject model = json.getAsJsonObject("model");
        assertEquals("BPE", model.get("type").getAsString());
        assertFalse(model.get("byte_fallback").getAsBoolean());
        assertTrue(model.get("unk_token").isJsonNull());
        assertEquals(trained.merges().get(0), model.getAsJsonArray("merges").get(0).getAsString());
        assertEquals(VOCAB_SIZE, model.getAsJsonObject("vocab").size());
        JsonArray added = json.getAsJsonArray("added_tokens");
        assertEquals(SpecialTokens.COUNT, added.size());
        assertTrue(added.get(3).getAsJsonObject().get("special").getAsBoolean());
        assertEquals(SpecialTokens.SEP, added.get(3).getAsJsonObject().get("content").getAsString());

        JsonObject config =
                JsonParser.parseString(Files.readString(dir.resolve("tokenizer_config.json"))).getAsJsonObject();
        assertEquals(SpecialTokens.BOS, config.get("bos_token").getAsString());
        assertEquals(SpecialTokens.EOS, config.get("eos_token").getAsString());
        assertEquals(SpecialTokens.PAD, config.get("pad_token").getAsString());
    }

    @Test
    void trainsAMegabyteToVocab4096InSeconds() {
        List<String> corpus = TestCorpus.generate(5, 4_000);
        long bytes = corpus.stream().mapToLong(text -> text.getBytes(StandardCharsets.UTF_8).length).sum();
        assertTrue(bytes > 1_000_000, "corpus bytes: " + bytes);
        long start = System.nanoTime();
        BpeTrainer trainer = new BpeTrainer(4096).train(corpus);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(4096, trainer.vocab().size());
        // About 0.3 s here on two busy cores; recounting all pairs after every merge would take minutes.
        assertTrue(seconds < 30, "training took " + seconds + " s");
    }

    @Test
    void writingBeforeTrainingIsRefused(@TempDir Path empty) {
        assertThrows(IllegalStateException.class, () -> new BpeTrainer(300).writeTokenizerJson(empty));
    }
}
