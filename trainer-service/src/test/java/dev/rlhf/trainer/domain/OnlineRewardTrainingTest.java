package dev.rlhf.trainer.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.reward.ScalarScorer;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.trainer.domain.OnlineRewardTraining.Pair;
import dev.rlhf.trainer.domain.OnlineRewardTraining.RewardCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnlineRewardTrainingTest {
    static final String PROMPT = "What is the capital of France?";
    static final String CHOSEN = "The capital of France is Paris.";
    static final String REJECTED = "I cannot help with that request.";

    @TempDir
    Path tmp;

    static OnlineRewardTraining.Options options(double otherShare) {
        return new OnlineRewardTraining.Options(4, 4, 64, 1e-3, RankingLoss.Margin.SMALL, 0, otherShare, 1, 0);
    }

    static Pair pair(String id, RewardKind kind) {
        return new Pair(id, kind, PROMPT, CHOSEN, REJECTED, RankingLoss.Rating.SIGNIFICANTLY_BETTER, true, true);
    }

    @Test
    void theMixShareIsDeterministicAndUniform() {
        int below = 0;
        for (int i = 0; i < 20_000; i++) {
            double s = OnlineRewardTraining.share("pair-" + i);
            assertTrue(s >= 0 && s < 1);
            assertEquals(s, OnlineRewardTraining.share("pair-" + i));
            below += s < 0.11 ? 1 : 0;
        }
        assertEquals(0.11, below / 20_000.0, 0.01);
    }

    @Test
    void stepsWidenTheScoreGapAndARestartResumesFromTheLedger() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("rm"), 2, true);
        Path root = tmp.resolve("ckpt");
        try (NDManager m = NDManager.newBaseManager()) {
            List<RewardCheckpoint> versions = new ArrayList<>();
            long skipped = 0;
            try (OnlineRewardTraining rm = new OnlineRewardTraining(RewardKind.HELPFULNESS, root, initial, options(0.0),
                    m)) {
                for (int i = 0; i < 24; i++) {
                    Pair p = pair("p" + i, i % 3 == 2 ? RewardKind.SAFETY : RewardKind.HELPFULNESS);
                    skipped += rm.takes(p) ? 0 : 1;
                    rm.accept(0, i, p).ifPresent(versions::add);
                }
                assertEquals(8, skipped, "share 0: no safety pair for the helpfulness model");
                assertEquals(4, versions.size(), "16 helpfulness pairs, batch 4, a version per step");
                RewardCheckpoint last = versions.get(3);
                assertEquals(16, last.pairsTrained());
                assertTrue(last.accuracyBeforeStep() >= 0 && last.accuracyBeforeStep() <= 1);
                assertEquals(23, rm.ledger().nextOffset(0), "pair 23 was skipped after the last step: pending");
            }
            double before = gap(initial, m);
            double after = gap(versions.get(3).dir(), m);
            assertTrue(after > before + 0.5, "score(chosen) - score(rejected): " + before + " -> " + after);

            try (OnlineRewardTraining rm = new OnlineRewardTraining(RewardKind.HELPFULNESS, root, initial, options(0.0),
                    m)) {
                assertEquals(4, rm.version());
                assertEquals(4, rm.steps());
                assertEquals(Optional.empty(), rm.accept(0, 22, pair("p22", RewardKind.HELPFULNESS)), "already trained");
                assertEquals(0, rm.buffered());
                rm.accept(0, 24, pair("p24", RewardKind.HELPFULNESS));
                assertEquals(1, rm.buffered());
            }
        }
    }

    @Test
    void theSafetyModelTakesItsOwnKindAndItsShareOfTheOther() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("rm"), 2, true);
        try (NDManager m = NDManager.newBaseManager();
             OnlineRewardTraining rm = new OnlineRewardTraining(RewardKind.SAFETY, tmp.resolve("s"), initial, options(0.3),
                     m)) {
            for (int i = 0; i < 200; i++) {
                assertTrue(rm.takes(pair("s" + i, RewardKind.SAFETY)));
                Pair h = pair("h" + i, RewardKind.HELPFULNESS);
                assertEquals(OnlineRewardTraining.share("h" + i) < 0.3, rm.takes(h));
            }
            assertFalse(rm.takes(pair("h-not", RewardKind.HELPFULNESS)) && OnlineRewardTraining.share("h-not") >= 0.3);
        }
    }

    private static double gap(Path checkpoint, NDManager m) {
        try (LlamaTokenizer tok = LlamaTokenizer.load(checkpoint); NDManager sub = m.newSubManager();
             GradMode.Restore ignored = GradMode.disabled()) {
            LlamaModel model = new LlamaModel(LlamaCheckpoint.load(checkpoint, sub, ScoreHead.REQUIRED));
            float[] s = new ScalarScorer(model, tok.padId()).scores(List.of(
                    PromptFormat.exchange(tok, PROMPT, CHOSEN), PromptFormat.exchange(tok, PROMPT, REJECTED)));
            return s[0] - s[1];
        }
    }

    /**
     * The recipe's schedule and the offline stage's class balance, online: with a 20-step horizon the warm-up is 5
     * steps (3% of 20, at least 5), so step 1 runs at 1e-3 / 5 and step 5 at the peak, recorded in each version; the
     * calibration term weighs unsafe responses n_safe / n_unsafe over everything seen (step 1: 4 safe chosen and
     * 4 rejected of which 3 unsafe -> 5/3; step 2 adds 4 safe and 4 unsafe -> 9/7), and a restart continues both.
     */
    @Test
    void onlineTrainingFollowsTheRecipeScheduleAndBalancesTheSafetyClasses() {
        Path initial = ModelFactory.tinyForTests(tmp.resolve("rm"), 2, true);
        Path root = tmp.resolve("ckpt");
        OnlineRewardTraining.Options o = new OnlineRewardTraining.Options(4, 4, 64, 1e-3, RankingLoss.Margin.SMALL,
                0.1, 0.0, 1, 20);
        try (NDManager m = NDManager.newBaseManager()) {
            List<RewardCheckpoint> versions = new ArrayList<>();
            try (OnlineRewardTraining rm = new OnlineRewardTraining(RewardKind.SAFETY, root, initial, o, m)) {
                for (int i = 0; i < 4; i++) {
                    rm.accept(0, i, new Pair("a" + i, RewardKind.SAFETY, PROMPT, REJECTED, CHOSEN,
                            RankingLoss.Rating.BETTER, true, i == 0)).ifPresent(versions::add);
                }
                for (int i = 4; i < 8; i++) {
                    rm.accept(0, i, new Pair("b" + i, RewardKind.SAFETY, PROMPT, REJECTED, CHOSEN,
                            RankingLoss.Rating.BETTER, true, false)).ifPresent(versions::add);
                }
            }
            assertEquals(2, versions.size());
            com.google.gson.JsonObject first = dev.rlhf.llama.io.Manifest.read(versions.get(0).dir()).metadata();
            com.google.gson.JsonObject second = dev.rlhf.llama.io.Manifest.read(versions.get(1).dir()).metadata();
            assertEquals(1e-3 / 5, first.get("learning_rate").getAsDouble(), 1e-12);
            assertEquals(2e-3 / 5, second.get("learning_rate").getAsDouble(), 1e-12);
            assertEquals(5.0 / 3.0, first.get("unsafe_weight").getAsDouble(), 1e-12);
            assertEquals(9.0 / 7.0, second.get("unsafe_weight").getAsDouble(), 1e-12);
            var lines = OnlinePpoTest.scalarLines(root);
            assertEquals(2, lines.size(), "one line of scalars per step");
            assertEquals(2e-3 / 5, lines.get(1).get("lr").getAsDouble(), 1e-12);
            assertEquals(9.0 / 7.0, lines.get(1).get("unsafe_weight").getAsDouble(), 1e-12);
            assertTrue(lines.get(1).has("loss") && lines.get(1).has("accuracy_before_step")
                    && lines.get(1).has("tokens_per_s"), lines.get(1).toString());
            try (OnlineRewardTraining again = new OnlineRewardTraining(RewardKind.SAFETY, root, initial, o, m)) {
                RewardCheckpoint third = null;
                for (int i = 8; i < 12; i++) {
                    third = again.accept(0, i, new Pair("c" + i, RewardKind.SAFETY, PROMPT, REJECTED, CHOSEN,
                            RankingLoss.Rating.BETTER, true, true)).orElse(third);
                }
                com.google.gson.JsonObject meta = dev.rlhf.llama.io.Manifest.read(third.dir()).metadata();
                assertEquals(3e-3 / 5, meta.get("learning_rate").getAsDouble(), 1e-12, "the schedule continues");
                assertEquals(17.0 / 7.0, meta.get("unsafe_weight").getAsDouble(), 1e-12, "the counts continue");
            }
        }
    }
}
