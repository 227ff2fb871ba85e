package dev.rlhf.llama.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class PackingTest {
    // Special ids as in SpecialTokens: pad 0, bos 1, eos 2, sep 3.
    @Test
    void promptAnswerExamplesAreConcatenatedWithLossOnlyOnAnswersAndEos() {
        List<TrainingExample> examples = List.of(
                new TrainingExample(new int[] {10, 11}, new int[] {20}),
                new TrainingExample(new int[] {12}, new int[] {21, 22}));
        // stream: 1 10 11 3 20 2 | 1 12 3 21 22 2   (12 tokens)
        List<PackedSequence> rows = Packing.pack(examples, 6, 1, 3, 2, 0);
        assertEquals(2, rows.size());
        assertArrayEquals(new int[] {1, 10, 11, 3, 20, 2}, rows.get(0).inputs());
        assertArrayEquals(new int[] {10, 11, 3, 20, 2, 1}, rows.get(0).targets());
        assertArrayEquals(new float[] {0, 0, 0, 1, 1, 0}, rows.get(0).lossMask());
        // Second row: inputs 1 12 3 21 22 (+pad), targets 12 3 21 22 2 (+pad)
        assertArrayEquals(new int[] {1, 12, 3, 21, 22, 0}, rows.get(1).inputs());
        assertArrayEquals(new int[] {12, 3, 21, 22, 2, 0}, rows.get(1).targets());
        assertArrayEquals(new float[] {0, 0, 1, 1, 1, 0}, rows.get(1).lossMask());
    }

    @Test
    void plainTextIsTrainedOnEveryTokenAfterBos() {
        List<PackedSequence> rows = Packing.pack(List.of(TrainingExample.text(new int[] {7, 8, 9})), 8, 1, 3, 2, 0);
        assertEquals(1, rows.size());
        assertArrayEquals(new int[] {1, 7, 8, 9, 0, 0, 0, 0}, rows.get(0).inputs());
        assertArrayEquals(new int[] {7, 8, 9, 2, 0, 0, 0, 0}, rows.get(0).targets());
        assertArrayEquals(new float[] {1, 1, 1, 1, 0, 0, 0, 0}, rows.get(0).lossMask());
    }

    /** A truncated response (not closed) is packed without </s>: the next example's <s> follows its last token. */
    @Test
    void aTruncatedResponseGetsNoClosingEos() {
        List<TrainingExample> examples = List.of(
                new TrainingExample(new int[] {10}, new int[] {20, 21}, false),
                new TrainingExample(new int[] {12}, new int[] {22}));
        // stream: 1 10 3 20 21 | 1 12 3 22 2   (10 tokens)
        List<PackedSequence> rows = Packing.pack(examples, 9, 1, 3, 2, 0);
        assertEquals(1, rows.size());
        assertArrayEquals(new int[] {1, 10, 3, 20, 21, 1, 12, 3, 22}, rows.get(0).inputs());
        assertArrayEquals(new int[] {10, 3, 20, 21, 1, 12, 3, 22, 2}, rows.get(0).targets());
        assertArrayEquals(new float[] {0, 0, 1, 1, 0, 0, 0, 1, 1}, rows.get(0).lossMask());
    }
}
