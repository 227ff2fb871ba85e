package dev.rlhf.llama.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

class IncrementalDecoderTest {

    private static final String TEXT = "héllo 世界 🎉";

    @TempDir static Path dir;
    private static LlamaTokenizer ours;
    private static LlamaTokenizer llamaStyle;

    @BeforeAll
    static void load() throws IOException {
        new BpeTrainer(600).train(TestCorpus.generate(3, 1_000)).writeTokenizerJson(dir.resolve("ours"));
        ours = LlamaTokenizer.load(dir.resolve("ours"));
        llamaStyle = LlamaTokenizer.load(LlamaStyleTokenizerFile.write(dir.resolve("llama")));
    }

    @AfterAll
    static void close() {
        ours.close();
        llamaStyle.close();
    }

    private static List<String> stream(IncrementalDecoder decoder, int[] ids) {
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            pieces.add(decoder.next(id));
        }
        return pieces;
    }

    private static void assertStreamsWholeCharacters(LlamaTokenizer tokenizer) {
        int[] ids = tokenizer.encode(TEXT);
        List<String> pieces = stream(tokenizer.incrementalDecoder(), ids);
        assertEquals(TEXT, String.join("", pieces), pieces::toString);
        assertTrue(pieces.stream().noneMatch(piece -> piece.contains("\uFFFD")), pieces::toString);
        assertTrue(pieces.contains(""), "some character spans several tokens and was held back: " + pieces);
    }

    @Test
    void streamsOurByteLevelTokensWithoutBrokenCharacters() {
        assertStreamsWholeCharacters(ours);
    }

    @Test
    void streamsLlamaByteFallbackTokensWithoutBrokenCharacters() {
        assertStreamsWholeCharacters(llamaStyle);
    }

    @Test
    void specialTokensProduceNoText() {
        int[] ids = ours.encode("ok");
        IncrementalDecoder decoder = ours.incrementalDecoder();
        assertEquals("", decoder.next(ours.bosId()));
        assertEquals("ok", String.join("", stream(decoder, ids)));
        assertEquals("", decoder.next(ours.eosId()));
        assertEquals("", decoder.flush());
    }

    @Test
    void continuingAfterAPromptKeepsTheSpaceThatStartsTheAnswer() {
        // SentencePiece decoders strip the first space of a sequence; mid-sequence it must survive.
        int[] all = llamaStyle.encode("hello world");
        int[] prompt = Arrays.copyOf(all, 1);
        IncrementalDecoder decoder = llamaStyle.incrementalDecoder(prompt);
        assertEquals(" world", decoder.next(all[1]));

        int[] ourPrompt = ours.encodeWithBos("hello");
        assertEquals(" world", String.join("", stream(ours.incrementalDecoder(ourPrompt), ours.encode(" world"))));
    }

    @Test
    void flushReleasesAnIncompleteCharacter() {
        int[] ids = llamaStyle.encode("世");
        // "▁" then the three UTF-8 bytes of 世 as byte-fallback tokens.
        assertEquals(4, ids.length, Arrays.toString(ids));
        IncrementalDecoder decoder = llamaStyle.incrementalDecoder();
        assertEquals("", String.join("", stream(decoder, Arrays.copyOf(ids, 2))));
        String rest = decoder.flush();
        assertFalse(rest.isEmpty());
        assertTrue(rest.contains("\uFFFD"), rest);
    }
}
