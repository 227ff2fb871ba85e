package dev.rlhf.llama.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.TestModels;
import dev.rlhf.llama.reward.ScalarScorer;
import dev.rlhf.llama.rl.RewardModelTraining.TokenPair;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RewardModelTrainingTest {
    private static final List<TokenPair> PAIRS = List.of(
            new TokenPair(new int[] {1, 5, 3, 7, 2}, new int[] {1, 5, 3, 8, 9, 2}, 1.0, true, false),
            new TokenPair(new int[] {1, 6, 3, 10, 2}, new int[] {1, 6, 3, 11, 2}, 1.0 / 3, true, true),
            new TokenPair(new int[] {1, 4, 3, 12, 13, 2}, new int[] {1, 4, 3, 14, 2}, 0, null, null));

    /** The batched differentiable loss equals the scalar formula applied to independently computed scores. */
    @Test
    void lossSumEqualsTheRankingFormulaOnScorerScores() {
        try (NDManager m = NDManager.newBaseManager(); GradMode.Restore ignored = GradMode.disabled()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 4);
            ScalarScorer scorer = new ScalarScorer(model, 0);
            double expected = 0;
            double calibration = 0;
            double weighted = 0; // unsafe responses x3
            for (TokenPair p : PAIRS) {
                double c = scorer.scores(List.of(p.chosen()))[0];
                double r = scorer.scores(List.of(p.rejected()))[0];
                expected += RankingLoss.loss(c, r, p.margin());
                if (p.chosenSafe() != null) {
                    // -log sigmoid(+r) for safe, -log sigmoid(-r) for unsafe = RankingLoss.loss(+-r, 0, 0)
                    calibration += RankingLoss.loss(p.chosenSafe() ? c : -c, 0, 0);
                    calibration += RankingLoss.loss(p.rejectedSafe() ? r : -r, 0, 0);
                    weighted += (p.chosenSafe() ? 1 : 3) * RankingLoss.loss(p.chosenSafe() ? c : -c, 0, 0);
                    weighted += (p.rejectedSafe() ? 1 : 3) * RankingLoss.loss(p.rejectedSafe() ? r : -r, 0, 0);
                }
            }
            double plain = RewardModelTraining.lossSum(model, PAIRS, 0, 0).getFloat();
            double calibrated = RewardModelTraining.lossSum(model, PAIRS, 0, 0.5).getFloat();
            double balanced = RewardModelTraining.lossSum(model, PAIRS, 0, 0.5, 3.0).getFloat();
            assertEquals(expected, plain, 1e-4);
            assertEquals(expected + 0.5 * calibration, calibrated, 1e-4);
            assertEquals(expected + 0.5 * weighted, balanced, 1e-4);
            assertTrue(weighted > calibration, "the fixture has an unsafe response");
        }
    }

    /** A few steps on a consistent preference order rank every chosen response above its rejected one. */
    @Test
    void trainingLearnsTheOrderOfTheTrainingPairs() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 7);
            List<TokenPair> pairs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                // chosen responses end in token 20, rejected ones in token 21
                pairs.add(new TokenPair(new int[] {1, 4 + i, 3, 20, 2}, new int[] {1, 4 + i, 3, 21, 2}, 1.0, null,
                        null));
            }
            double first;
            double last;
            try (Trainer trainer = new Trainer(model, LearningRateSchedule.constant(3e-3))) {
                first = trainer.step(List.of(pairs), (mm, b) -> RewardModelTraining.lossSum(mm, b, 0, 0),
                        pairs.size()).loss();
                last = first;
                for (int s = 0; s < 30; s++) {
                    last = trainer.step(List.of(pairs), (mm, b) -> RewardModelTraining.lossSum(mm, b, 0, 0),
                            pairs.size()).loss();
                }
            }
            assertTrue(last < first * 0.5, "loss " + first + " -> " + last);
            ScalarScorer scorer = new ScalarScorer(model, 0);
            for (TokenPair p : pairs) {
                float[] s = scorer.scores(List.of(p.chosen(), p.rejected()));
                assertTrue(s[0] > s[1] + 0.5, "chosen " + s[0] + " vs rejected " + s[1]);
            }
        }
    }
}
