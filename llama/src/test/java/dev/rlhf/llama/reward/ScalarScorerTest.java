package dev.rlhf.llama.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.TestModels;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScalarScorerTest {
    @Test
    void batchedLeftPaddedScoresEqualEachSequenceAlone() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 4);
            ScalarScorer scorer = new ScalarScorer(model, 0);
            int[] a = {1, 5, 3, 7, 2};
            int[] b = {1, 9, 3, 11, 12, 13, 14, 2};
            float[] batch = scorer.scores(List.of(a, b));
            assertEquals(scorer.scores(List.of(a))[0], batch[0], 1e-5);
            assertEquals(scorer.scores(List.of(b))[0], batch[1], 1e-5);
            assertNotEquals(batch[0], batch[1], 1e-6);
        }
    }

    @Test
    void aModelWithoutAScoreHeadIsRejected() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 4);
            model.weights().remove(LlamaWeights.SCORE_HEAD);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ScalarScorer(model, 0));
            assertEquals(true, e.getMessage().contains("score.weight"));
        }
    }
}
