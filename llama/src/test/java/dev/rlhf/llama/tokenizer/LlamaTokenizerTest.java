package dev.rlhf.llama.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

class LlamaTokenizerTest {

    @TempDir static Path dir;
    private static LlamaTokenizer tokenizer;

    @BeforeAll
    static void trainAndLoad() throws IOException {
        new BpeTrainer(800).train(TestCorpus.generate(11, 2_000)).writeTokenizerJson(dir);
        tokenizer = LlamaTokenizer.load(dir);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static void assertRoundTrip(String text) {
        int[] ids = tokenizer.encode(text);
        assertEquals(text, tokenizer.decode(ids), () -> "ids " + Arrays.toString(ids) + " for " + escape(text));
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder();
        text.codePoints()
                .forEach(cp -> out.append(cp < 0x20 || cp > 0x7E ? String.format("\\u{%X}", cp) : Character.toString(cp)));
        return out.toString();
    }

    @Test
    void roundTripsAwkwardText() {
        List<String> texts = List.of(
                "",
                "hello world",
                "The tokenizer's answer: 42, not 3.14!",
                "中文和日本語、한국어",
                "世界 is not in the corpus",
                "emoji 🎉😀 and a family 👨‍👩‍👧 and a flag 🇫🇷",
                "e\u0301 vs \u00e9, a\u0308\u0304, Z\u0335\u0321a\u0336lgo",
                "\u0001\u0002\u0007 controls \u001b[31m red \u007f",
                "nul \u0000 inside",
                "   leading spaces",
                "trailing spaces   ",
                "many     spaces\t\ttabs\n\nnew\r\nlines\u00a0nbsp\u2003em\u3000ideographic",
                " ",
                "\n",
                "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 supplementary 𠀀𪚥",
                "numbers ²³ ½ Ⅻ ٣٤ 1,234.5e-6");
        texts.forEach(LlamaTokenizerTest::assertRoundTrip);
    }

    @Test
    void roundTripsRandomText() {
        int[][] ranges = {
            {0x00, 0x7F}, {0x80, 0x24F}, {0x300, 0x36F}, {0x370, 0x4FF}, {0x600, 0x6FF}, {0x2000, 0x206F},
            {0x3000, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xE000, 0xE0FF}, {0x1F300, 0x1FAFF},
            {0x20000, 0x2A6DF}
        };
        Random random = new Random(2024);
        for (int n = 0; n < 300; n++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(30);
            for (int k = 0; k < length; k++) {
                int[] range = ranges[random.nextInt(ranges.length)];
                text.appendCodePoint(range[0] + random.nextInt(range[1] - range[0] + 1));
            }
            assertRoundTrip(text.toString());
        }
    }

    @Test
    void everyDigitIsItsOwnToken() {
        int[] ids = tokenizer.encode("12345");
        assertEquals(5, ids.length);
        for (int k = 0; k < 5; k++) {
            assertEquals(String.valueOf((char) ('1' + k)), tokenizer.tokenText(ids[k]));
        }
        int[] mixed = tokenizer.encode("v2024 costs 99");
        long digitTokens = Arrays.stream(mixed).filter(id -> tokenizer.tokenText(id).matches(".*\\d.*")).count();
        assertEquals(6, digitTokens);
        assertTrue(Arrays.stream(mixed)
                .mapToObj(tokenizer::tokenText)
                .allMatch(token -> !token.matches(".*\\d.*") || token.length() == 1));
    }

    @Test
    void aFrequentWordIsOneToken() {
        int[] ids = tokenizer.encode(" " + TestCorpus.FREQUENT_WORD);
        assertEquals(1, ids.length, () -> Arrays.toString(ids));
        assertEquals("Ġ" + TestCorpus.FREQUENT_WORD, tokenizer.tokenText(ids[0]));
        assertTrue(tokenizer.encode("a rare zebra qualm").length > 4, "rare words stay split");
    }

    @Test
    void encodeAddsNoSpecialTokensAndEncodeWithBosAddsExactlyOne() {
        int[] plain = tokenizer.encode("hello world");
        int[] withBos = tokenizer.encodeWithBos("hello world");
        assertTrue(Arrays.stream(plain).allMatch(id -> id >= SpecialTokens.COUNT), Arrays.toString(plain));
        assertEquals(plain.length + 1, withBos.length);
        assertEquals(SpecialTokens.BOS_ID, withBos[0]);
        assertArrayEquals(plain, Arrays.copyOfRange(withBos, 1, withBos.length));
        assertArrayEquals(new int[] {SpecialTokens.BOS_ID}, tokenizer.encodeWithBos(""));
    }

    @Test
    void decodeSkipsSpecialTokens() {
        int[] ids = tokenizer.encode("prompt");
        int[] answer = tokenizer.encode(" answer");
        int[] sequence = new int[ids.length + answer.length + 4];
        sequence[0] = tokenizer.bosId();
        System.arraycopy(ids, 0, sequence, 1, ids.length);
        sequence[ids.length + 1] = tokenizer.sepId();
        System.arraycopy(answer, 0, sequence, ids.length + 2, answer.length);
        sequence[sequence.length - 2] = tokenizer.eosId();
        sequence[sequence.length - 1] = tokenizer.padId();
        assertEquals("prompt answer", tokenizer.decode(sequence));
    }

    @Test
    void rejectsIdsOutsideTheVocabulary() {
        assertThrows(IllegalArgumentException.class, () -> tokenizer.decode(new int[] {tokenizer.vocabSize()}));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.tokenText(-1));
    }

    @Test
    void loadsTheFileItselfAsWellAsItsDirectory() {
        try (LlamaTokenizer fromFile = LlamaTokenizer.load(dir.resolve("tokenizer.json"))) {
            assertArrayEquals(tokenizer.encode("same ids 123"), fromFile.encode("same ids 123"));
        }
    }

    @Test
    void missingFileIsReportedWithItsPath(@TempDir Path empty) {
        Path missing = empty.resolve("no-such-model");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaTokenizer.load(missing));
        assertTrue(e.getMessage().contains(missing.toAbsolutePath().toString()), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LlamaTokenizer.load(empty));
        assertTrue(e.getMessage().contains(empty.resolve("tokenizer.json").toAbsolutePath().toString()), e.getMessage());
    }

    @Test
    void invalidFilesAreReportedWithTheirPath(@TempDir Path bad) throws IOException {
        Path file = bad.resolve("tokenizer.json");
        Files.writeString(file, "{ not json");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaTokenizer.load(bad));
        assertTrue(e.getMessage().contains(file.toAbsolutePath().toString()), e.getMessage());

        // Parses as JSON but the native loader refuses it: a merge of tokens that are not in the vocabulary.
        String broken = Files.readString(dir.resolve("tokenizer.json"), StandardCharsets.UTF_8)
                .replaceFirst("\"merges\": \\[", "\"merges\": [\n      \"nosuch token\",");
        Files.writeString(file, broken, StandardCharsets.UTF_8);
        e = assertThrows(IllegalArgumentException.class, () -> LlamaTokenizer.load(bad));
        assertTrue(e.getMessage().contains(file.toAbsolutePath().toString()), e.getMessage());
    }

    @Test
    void behavesTheSameOnALlamaStyleFile(@TempDir Path llamaDir) throws IOException {
        try (LlamaTokenizer llama = LlamaTokenizer.load(LlamaStyleTokenizerFile.write(llamaDir))) {
            assertEquals(LlamaStyleTokenizerFile.VOCAB_SIZE, llama.vocabSize());
            assertEquals(1, llama.bosId());
            assertEquals(2, llama.eosId());
            assertEquals(llama.eosId(), llama.padId(), "no pad token: falls back to EOS");
            assertEquals(llama.eosId(), llama.sepId(), "no <sep>: falls back to EOS");

            int[] plain = llama.encode("hello world");
            assertEquals(List.of("▁hello", "▁world"), Arrays.stream(plain).mapToObj(llama::tokenText).toList());
            int[] withBos = llama.encodeWithBos("hello world");
            assertEquals(
                    1, Arrays.stream(withBos).filter(id -> id == llama.bosId()).count(), "post-processor BOS not added twice");
            assertEquals(llama.bosId(), withBos[0]);
            assertArrayEquals(plain, Arrays.copyOfRange(withBos, 1, withBos.length));

            // é is outside this vocabulary, so it goes through byte-fallback tokens.
            String text = "héllo  world 世界 🎉";
            int[] ids = llama.encode(text);
            assertTrue(Arrays.stream(ids).mapToObj(llama::tokenText).anyMatch("<0xC3>"::equals));
            int[] framed = new int[ids.length + 2];
            framed[0] = llama.bosId();
            System.arraycopy(ids, 0, framed, 1, ids.length);
            framed[framed.length - 1] = llama.eosId();
            assertEquals(text, llama.decode(framed));
        }
    }
}
