package dev.rlhf.llama.reward;

import dev.rlhf.vocabulary.RewardKind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.tokenizer.BpeTrainer;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real reward checkpoint written to disk, loaded and scored. */
class RewardModelTest {
    @TempDir
    Path tmp;

    private Path writeRewardCheckpoint(NDManager m, boolean withScoreHead, float scale) throws Exception {
        Path tokDir = tmp.resolve("tok");
        new BpeTrainer(300).train(List.of("the answer is 42", "I cannot help with that", "hello world"))
                .writeTokenizerJson(tokDir);
        LlamaConfig config;
        try (LlamaTokenizer tok = LlamaTokenizer.load(tokDir)) {
            config = LlamaConfig.preset("tiny").withTokenizer(tok.vocabSize(), tok.bosId(), tok.eosId());
        }
        LlamaWeights w = LlamaWeights.randomInit(config, m.newSubManager(), 1, withScoreHead);
        if (withScoreHead) {
            w.get(LlamaWeights.SCORE_HEAD).muli(scale);
        }
        return LlamaCheckpoint.save(w, tmp.resolve("rm-" + withScoreHead + scale), LlamaCheckpoint.SaveOptions.defaults(7)
                .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(tokDir, dir)));
    }

    @Test
    void scoresAreBatchedAndTheProbabilityIsTheSigmoidOfTheRawScore() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writeRewardCheckpoint(m, true, 50);
            try (RewardModel rm = RewardModel.load(RewardKind.SAFETY, RewardModel.manifestStep(dir), dir, m)) {
                assertEquals(7, rm.version());
                List<RewardModel.Score> batch = rm.score("what is six times seven?",
                        List.of("the answer is 42", "I cannot help with that"));
                assertEquals(2, batch.size());
                for (RewardModel.Score s : batch) {
                    assertEquals(1 / (1 + Math.exp(-s.raw())), s.probability(), 1e-12);
                }
                RewardModel.Score alone = rm.score("what is six times seven?", List.of("I cannot help with that"))
                        .get(0);
                assertEquals(alone.raw(), batch.get(1).raw(), 1e-4);
                assertTrue(Math.abs(batch.get(0).raw() - batch.get(1).raw()) > 1e-4, "different responses");
                assertThrows(IllegalArgumentException.class, () -> rm.score("", List.of("x")));
            }
        }
    }

    @Test
    void aCheckpointWithoutScoreHeadIsRejectedAndNamesTheTensor() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writeRewardCheckpoint(m, false, 1);
            RuntimeException e = assertThrows(RuntimeException.class,
                    () -> RewardModel.load(RewardKind.HELPFULNESS, 1, dir, m));
            assertTrue(e.getMessage().contains("score.weight"), e.getMessage());
        }
    }

    @Test
    void nonFiniteScoresAreNeverReturnedAsNumbers() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writeRewardCheckpoint(m, true, Float.NaN);
            try (RewardModel rm = RewardModel.load(RewardKind.HELPFULNESS, 1, dir, m)) {
                RewardModel.NonFiniteScoreException e = assertThrows(RewardModel.NonFiniteScoreException.class,
                        () -> rm.score("hello", List.of("world")));
                assertTrue(e.getMessage().contains("response 0"), e.getMessage());
            }
        }
    }

    /** Mixed-prompt batches score each pair exactly as a one-prompt call does. */
    @Test
    void pairsOfDifferentPromptsScoreAsTheirOwnCalls() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writeRewardCheckpoint(m, true, 50);
            try (RewardModel rm = RewardModel.load(RewardKind.HELPFULNESS, 1, dir, m)) {
                List<RewardModel.Score> mixed = rm.score(List.of("hello", "what is six times seven?", "hello"),
                        List.of("world", "the answer is 42", "the answer is 42"));
                assertEquals(rm.score("hello", List.of("world")).get(0).raw(), mixed.get(0).raw(), 1e-4);
                assertEquals(rm.score("what is six times seven?", List.of("the answer is 42")).get(0).raw(),
                        mixed.get(1).raw(), 1e-4);
                assertEquals(rm.score("hello", List.of("the answer is 42")).get(0).raw(), mixed.get(2).raw(), 1e-4);
                assertTrue(Math.abs(mixed.get(1).raw() - mixed.get(2).raw()) > 1e-4, "the prompt matters");
                assertThrows(IllegalArgumentException.class, () -> rm.score(List.of("a"), List.of("x", "y")));
            }
        }
    }

    /**
     * A response cut at the length limit is scored as it stands, {@code <s> prompt <sep> response} read at its last
     * token, without the {@code </s>} that marks a complete answer (recomputed here with the scorer directly).
     */
    @Test
    void aTruncatedResponseIsScoredWithoutTheClosingEos() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writeRewardCheckpoint(m, true, 50);
            try (RewardModel rm = RewardModel.load(RewardKind.HELPFULNESS, 1, dir, m);
                 LlamaTokenizer tok = LlamaTokenizer.load(dir)) {
                List<RewardModel.Score> s = rm.score(List.of("hello", "hello"), List.of("the answer", "the answer"),
                        new boolean[] {true, false});
                int[] prompt = dev.rlhf.llama.tokenizer.PromptFormat.chatPrompt(tok, "hello");
                int[] response = tok.encode("the answer");
                int[] cut = java.util.Arrays.copyOf(prompt, prompt.length + response.length);
                System.arraycopy(response, 0, cut, prompt.length, response.length);
                float expected = new dev.rlhf.llama.reward.ScalarScorer(rm.model(), tok.padId())
                        .scores(List.of(cut))[0];
                assertEquals(expected, s.get(0).raw(), 1e-4);
                assertEquals(rm.score("hello", List.of("the answer")).get(0).raw(), s.get(1).raw(), 1e-4);
                assertTrue(Math.abs(s.get(0).raw() - s.get(1).raw()) > 1e-4, "with and without </s> differ");
            }
        }
    }
}
