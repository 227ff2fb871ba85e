package dev.rlhf.trainer.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.generate.SequenceScorer;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.PpoRewards;
import dev.rlhf.llama.rl.PpoTrainer;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.trainer.domain.RejectionSamplingSft.PolicyCheckpoint;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnlinePpoTest {
    static final String PROMPT = "What is 2 plus 3?";
    static final String GOOD = "2 plus 3 is 5.";
    static final String BAD = "I cannot help with that request.";

    @TempDir
    Path tmp;
    Path initial;
    int[] good;
    int[] bad;

    @BeforeEach
    void model() {
        initial = ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        try (LlamaTokenizer tok = LlamaTokenizer.load(initial)) {
            good = tok.encode(GOOD);
            bad = tok.encode(BAD);
        }
    }

    static OnlinePpo.Options options(int batch, int maxStaleness) {
        return new OnlinePpo.Options(batch, 1, maxStaleness, new PpoTrainer.Options(1e-3, 2, 0.01,
                PpoRewards.KlEstimator.K1, 1.0, 0.95, 0.2, 0.2, 0.1, 7));
    }

    OnlinePpo.Rollout rollout(String id, long version) {
        return new OnlinePpo.Rollout(id, PROMPT, version, List.of(new OnlinePpo.Candidate(good, 0.9),
                new OnlinePpo.Candidate(bad, 0.1)));
    }

    @Test
    void staleRolloutsAreDroppedAndCountedAndARestartResumesWhereTheCheckpointStopped() {
        Path root = tmp.resolve("ckpt");
        try (NDManager m = NDManager.newBaseManager()) {
            try (OnlinePpo ppo = new OnlinePpo(root, initial, options(4, 0), m)) {
                assertEquals(Optional.empty(), ppo.accept(0, 0, rollout("a", 0)));
                PolicyCheckpoint v1 = ppo.accept(0, 1, rollout("b", 0)).orElseThrow();
                assertEquals(1, v1.version());
                assertEquals(2, ppo.ledger().nextOffset(0));
                // The checkpoint keeps the value head for PPO; the policy service drops it on load.
                assertTrue(LlamaCheckpoint.load(v1.dir(), m, ScoreHead.REQUIRED).has(LlamaWeights.SCORE_HEAD));
                assertTrue(!LlamaCheckpoint.load(v1.dir(), m, ScoreHead.ABSENT).has(LlamaWeights.SCORE_HEAD));

                // Sampled by version 0 while the trainer is at 1: one version behind, over the bound of 0.
                assertEquals(Optional.empty(), ppo.accept(0, 2, rollout("stale", 0)));
                assertEquals(1, ppo.droppedStale());
                assertEquals(0, ppo.buffered());
                ppo.accept(0, 3, rollout("c", 1));
                PolicyCheckpoint v2 = ppo.accept(1, 0, rollout("d", 1)).orElseThrow();
                assertEquals(2, v2.version());
                assertEquals(2, ppo.iterations());
                assertEquals(4, ppo.ledger().nextOffset(0), "the dropped record is settled too");
                assertEquals(4, ppo.ledger().totalTrained(), "a, b, c, d");
                ppo.accept(1, 1, rollout("e", 2)); // buffered, lost with the process
            }
            try (OnlinePpo ppo = new OnlinePpo(root, initial, options(4, 0), m)) {
                assertEquals(2, ppo.version());
                assertEquals(2, ppo.iterations());
                assertEquals(1, ppo.droppedStale(), "lifetime counters are restored with the checkpoint");
                assertEquals(8, ppo.withoutSamplingLogprobs(), "a, b, c, d: two candidates each");
                assertEquals(Optional.empty(), ppo.accept(1, 0, rollout("d", 1)), "already trained: ignored");
                assertEquals(0, ppo.buffered());
                ppo.accept(1, 1, rollout("e", 2));
                assertEquals(2, ppo.buffered(), "re-read after the restart");
            }
        }
    }

    @Test
    void iterationsRaiseTheLikelihoodOfTheRewardedResponseRelativeToTheOther() {
        Path root = tmp.resolve("learn");
        try (NDManager m = NDManager.newBaseManager()) {
            PolicyCheckpoint last = null;
            try (OnlinePpo ppo = new OnlinePpo(root, initial, options(4, 100), m)) {
                for (int i = 0; i < 16; i++) {
                    Optional<PolicyCheckpoint> c = ppo.accept(0, i, rollout("r" + i, 0));
                    if (c.isPresent()) {
                        last = c.get();
                    }
                }
                assertEquals(8, ppo.iterations());
                assertEquals(4, ppo.lastStats().responses());
                assertEquals(0.5, ppo.lastStats().meanCombined(), 1e-6);
            }
            // The per-iteration scalars for TensorBoard, also as JSON lines: one per iteration.
            List<com.google.gson.JsonObject> lines = scalarLines(root);
            assertEquals(8, lines.size());
            assertEquals(8, lines.get(7).get("step").getAsLong());
            for (String key : List.of("reward_mean", "reward_std", "kl", "clip_fraction", "value_loss", "approx_kl",
                    "eos_rate", "grad_norm")) {
                assertTrue(lines.get(7).has(key), key + " in " + lines.get(7));
            }
            assertEquals(0.5, lines.get(0).get("combined_mean").getAsDouble(), 1e-6);
            double before = gap(initial, m);
            double after = gap(last.dir(), m);
            assertTrue(after > before + 0.5, "log p(good) - log p(bad): " + before + " -> " + after);
        }
    }

    /**
     * LoRA: versions are adapter directories on the initial policy, pi_0 is the policy with the adapter off (no
     * second copy of the model), the base never moves, the policy still learns, and a restart resumes the adapter
     * with pi_0 still shared.
     */
    @Test
    void withLoraTheVersionsAreAdaptersAndTheReferenceIsTheBaseWithTheAdapterOff() throws Exception {
        Path root = tmp.resolve("lora");
        var lora = dev.rlhf.llama.lora.LoraConfig.parse("r=4,alpha=16");
        try (NDManager m = NDManager.newBaseManager()) {
            PolicyCheckpoint last = null;
            try (OnlinePpo ppo = new OnlinePpo(root, initial, options(4, 100), lora, m)) {
                assertTrue(ppo.referenceSharesPolicyWeights());
                for (int i = 0; i < 16; i++) {
                    Optional<PolicyCheckpoint> c = ppo.accept(0, i, rollout("r" + i, 0));
                    if (c.isPresent()) {
                        last = c.get();
                    }
                }
                assertEquals(8, ppo.iterations());
            }
            assertTrue(java.nio.file.Files.exists(last.dir().resolve("adapter_config.json")));
            assertTrue(!java.nio.file.Files.exists(last.dir().resolve("model.safetensors")));
            long update = java.nio.file.Files.size(last.dir().resolve("adapter_model.safetensors"));
            long full = java.nio.file.Files.size(initial.resolve("model.safetensors"));
            assertTrue(update * 3 < full, "an update of " + update + " bytes against a model of " + full);
            LlamaWeights served = LlamaCheckpoint.load(last.dir(), m, ScoreHead.ABSENT);
            assertEquals(lora, served.adapter().config());
            double before = gap(initial, m);
            double after = gap(last.dir(), m);
            assertTrue(after > before + 0.5, "log p(good) - log p(bad): " + before + " -> " + after);
            try (OnlinePpo again = new OnlinePpo(root, initial, options(4, 100), lora, m)) {
                assertEquals(8, again.version());
                assertTrue(again.referenceSharesPolicyWeights(), "resumed: pi_0 still the base with the adapter off");
            }
        }
    }

    /**
     * The sampling log-probabilities a rollout carries are pi_old of the ratio and of the KL penalty: at the first
     * iteration the policy equals the reference pi_0, so with log-probabilities 0.5 below the model's own the mean
     * k1 KL is -0.5 per token, where a rollout without them (counted) gives 0.
     */
    @Test
    void samplingLogProbsOfTheRolloutAreTheOldPolicy() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<float[]> own = logProbs(initial, List.of(good, bad), m);
            double tokens = (good.length + bad.length) / 2.0;
            try (OnlinePpo ppo = new OnlinePpo(tmp.resolve("sampled"), initial, options(2, 0), m)) {
                ppo.accept(0, 0, new OnlinePpo.Rollout("a", PROMPT, 0, List.of(
                        new OnlinePpo.Candidate(good, 0.9, shift(own.get(0), -0.5f)),
                        new OnlinePpo.Candidate(bad, 0.1, shift(own.get(1), -0.5f)))));
                assertEquals(1, ppo.iterations());
                assertEquals(-0.5 * tokens, ppo.lastStats().meanKl(), 1e-3);
                assertEquals(0, ppo.withoutSamplingLogprobs());
            }
            try (OnlinePpo ppo = new OnlinePpo(tmp.resolve("recomputed"), initial, options(2, 0), m)) {
                ppo.accept(0, 0, rollout("a", 0));
                assertEquals(0, ppo.lastStats().meanKl(), 1e-4);
                assertEquals(2, ppo.withoutSamplingLogprobs());
            }
        }
    }

    @Test
    void aCandidateWithLogProbsForOtherTokensOrImpossibleValuesIsRejected() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new OnlinePpo.Candidate(good, 0.5, new float[good.length + 1]));
        assertTrue(e.getMessage().contains(good.length + " tokens, " + (good.length + 1) + " log-probabilities"),
                e.getMessage());
        for (float bad : new float[] {Float.NaN, Float.NEGATIVE_INFINITY, 0.5f}) {
            float[] lp = new float[good.length];
            java.util.Arrays.fill(lp, -1f);
            lp[1] = bad;
            IllegalArgumentException v = org.junit.jupiter.api.Assertions.assertThrows(
                    IllegalArgumentException.class, () -> new OnlinePpo.Candidate(good, 0.5, lp));
            assertTrue(v.getMessage().contains("of token 1 is not a finite value <= 0"), v.getMessage());
        }
        new OnlinePpo.Candidate(good, 0.5, new float[good.length]); // log p = 0 (probability 1) is valid
    }

    private List<float[]> logProbs(Path checkpoint, List<int[]> responses, NDManager m) {
        try (LlamaTokenizer tok = LlamaTokenizer.load(initial); NDManager sub = m.newSubManager();
             GradMode.Restore ignored = GradMode.disabled()) {
            LlamaModel model = new LlamaModel(LlamaCheckpoint.load(checkpoint, sub, ScoreHead.ABSENT));
            int[] prompt = PromptFormat.chatPrompt(tok, PROMPT);
            return new SequenceScorer(model, tok.padId()).responseLogProbs(
                    responses.stream().map(r -> prompt).toList(), responses);
        }
    }

    private static float[] shift(float[] logp, float by) {
        float[] out = logp.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] += by;
        }
        return out;
    }

    /** Summed log p of the good response minus that of the bad one, by an independent scorer. */
    private double gap(Path checkpoint, NDManager m) {
        try (LlamaTokenizer tok = LlamaTokenizer.load(initial); NDManager sub = m.newSubManager();
             GradMode.Restore ignored = GradMode.disabled()) {
            LlamaModel model = new LlamaModel(LlamaCheckpoint.load(checkpoint, sub, ScoreHead.ABSENT));
            int[] prompt = PromptFormat.chatPrompt(tok, PROMPT);
            List<float[]> lp = new SequenceScorer(model, tok.padId()).responseLogProbs(List.of(prompt, prompt),
                    List.of(good, bad));
            return sum(lp.get(0)) - sum(lp.get(1));
        }
    }

    private static double sum(float[] x) {
        double s = 0;
        for (float v : x) {
            s += v;
        }
        return s;
    }

    /**
     * pi_0 is the policy PPO started from: here a rejection-sampling version in the same directory, not
     * trainer.initial-policy. It is recorded in PPO's checkpoints and kept by a restart that names another initial
     * policy.
     */
    @Test
    void theReferenceIsThePolicyPpoStartedFromAndARestartKeepsIt() {
        Path root = tmp.resolve("ckpt");
        try (NDManager m = NDManager.newBaseManager()) {
            try (RejectionSamplingSft rs = new RejectionSamplingSft(root, initial,
                    new RejectionSamplingSft.Options(1, 1, 64, 1e-3, 1), m)) {
                assertTrue(rs.accept(0, 0, "s", PROMPT, GOOD, 0.9).isPresent(), "an RS version");
            }
            Path rsVersion = CheckpointDirs.newest(root).toAbsolutePath();
            try (OnlinePpo ppo = new OnlinePpo(root, initial, options(4, 0), m)) {
                assertEquals(rsVersion, ppo.referenceDir());
                ppo.accept(1, 0, rollout("a", 1));
                assertTrue(ppo.accept(1, 1, rollout("b", 1)).isPresent(), "a PPO version");
            }
            Path other = ModelFactory.tinyForTests(tmp.resolve("other"), 9, false);
            try (OnlinePpo again = new OnlinePpo(root, other, options(4, 0), m)) {
                assertEquals(rsVersion, again.referenceDir());
            }
        }
    }

    /** Greedy and top-k/top-p rollouts have a distribution the trainer cannot reproduce: refused and counted. */
    @Test
    void rolloutsSampledGreedilyOrWithFilteringAreRefusedAndCounted() {
        try (NDManager m = NDManager.newBaseManager();
             OnlinePpo ppo = new OnlinePpo(tmp.resolve("ckpt"), initial, options(4, 0), m)) {
            List<OnlinePpo.Candidate> c = List.of(new OnlinePpo.Candidate(good, 0.9), new OnlinePpo.Candidate(bad, 0.1));
            ppo.accept(0, 0, new OnlinePpo.Rollout("g", PROMPT, new int[0], 0, new OnlinePpo.Sampling(0, 1, 0), c));
            ppo.accept(0, 1, new OnlinePpo.Rollout("p", PROMPT, new int[0], 0, new OnlinePpo.Sampling(1, 0.9, 0), c));
            ppo.accept(0, 2, new OnlinePpo.Rollout("k", PROMPT, new int[0], 0, new OnlinePpo.Sampling(1, 1, 40), c));
            assertEquals(3, ppo.refusedSampling());
            assertEquals(0, ppo.buffered());
            ppo.accept(0, 3, new OnlinePpo.Rollout("t", PROMPT, new int[0], 0, new OnlinePpo.Sampling(0.7, 1, 0), c));
            assertEquals(2, ppo.buffered(), "T = 0.7 without filtering is corrected for, not refused");
        }
    }

    /** The prompt ids the policy reported are what PPO trains on: an id outside the vocabulary is refused. */
    @Test
    void promptIdsFromTheRolloutAreUsedAndChecked() {
        try (NDManager m = NDManager.newBaseManager();
             OnlinePpo ppo = new OnlinePpo(tmp.resolve("ckpt"), initial, options(4, 0), m)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> ppo.accept(0, 0, new OnlinePpo.Rollout("x", PROMPT, new int[] {1, 1 << 20, 3}, 0,
                            OnlinePpo.Sampling.UNFILTERED_T1, List.of(new OnlinePpo.Candidate(good, 0.9)))));
            assertTrue(e.getMessage().contains("prompt token id 1048576"), e.getMessage());
        }
    }

    /**
     * A float32 sigmoid saturates: scores of logit 20 and 30 are both 1.0f, whose logit is the clamp's 13.8. The
     * raw logit the sampler now carries keeps them apart.
     */
    @Test
    void theRawRewardIsUsedWhereTheSigmoidSaturates() {
        float saturated = (float) (1 / (1 + Math.exp(-20)));
        assertEquals(1.0f, saturated);
        assertEquals(20, new OnlinePpo.Candidate(good, saturated, new float[0], 20, false).logitReward(), 0);
        assertEquals(30, new OnlinePpo.Candidate(good, saturated, new float[0], 30, false).logitReward(), 0);
        assertEquals(PpoRewards.logit(1.0), new OnlinePpo.Candidate(good, saturated).logitReward(), 0);
        assertEquals(13.8, PpoRewards.logit(1.0), 0.05);
    }

    /**
     * An adaptive KL controller (target 6 nats, horizon 10 responses): the first iteration's KL is exactly 0 (the
     * policy is pi_0), 100% under target, clipped to -20%, so beta = 0.01 x (1 - 0.2 x 4 / 10) = 0.0092; the value is
     * recorded in the version and a restart continues from it.
     */
    @Test
    void anAdaptiveKlCoefficientMovesByTheClippedErrorAndSurvivesARestart() {
        Path root = tmp.resolve("ckpt");
        OnlinePpo.Options adaptive = new OnlinePpo.Options(4, 1, 0, options(4, 0).ppo(), 0, List.of(), 0, 0, 512,
                6.0, 10, null);
        try (NDManager m = NDManager.newBaseManager()) {
            try (OnlinePpo ppo = new OnlinePpo(root, initial, adaptive, m)) {
                assertEquals(0.01, ppo.beta(), 0);
                ppo.accept(0, 0, rollout("a", 0));
                PolicyCheckpoint v1 = ppo.accept(0, 1, rollout("b", 0)).orElseThrow();
                assertEquals(0.0, ppo.lastStats().meanKl(), 0);
                assertEquals(0.0092, ppo.beta(), 1e-15);
                assertEquals(0.0092, dev.rlhf.llama.io.Manifest.read(v1.dir()).metadata().get("kl_coef")
                        .getAsDouble(), 1e-15);
            }
            try (OnlinePpo again = new OnlinePpo(root, initial, adaptive, m)) {
                assertEquals(0.0092, again.beta(), 1e-15);
            }
            try (OnlinePpo fixed = new OnlinePpo(root, initial, options(4, 0), m)) {
                assertEquals(0.01, fixed.beta(), 0, "without a target the configured beta holds");
            }
        }
    }

    /** trainer.ppo-value-init: PPO's value head starts as the reward model's scalar head, not zeros. */
    @Test
    void theValueHeadCanStartFromTheRewardModel() {
        Path rm = ModelFactory.tinyForTests(tmp.resolve("rm"), 4, true);
        OnlinePpo.Options fromRm = new OnlinePpo.Options(4, 1, 0, options(4, 0).ppo(), 0, List.of(), 0, 0, 512, 0,
                10_000, rm);
        try (NDManager m = NDManager.newBaseManager();
             OnlinePpo ppo = new OnlinePpo(tmp.resolve("ckpt"), initial, fromRm, m)) {
            float[] expected = LlamaCheckpoint.load(rm, m, ScoreHead.REQUIRED).get(LlamaWeights.SCORE_HEAD)
                    .toFloatArray();
            PolicyCheckpoint v1 = null;
            ppo.accept(0, 0, rollout("a", 0));
            v1 = ppo.accept(0, 1, rollout("b", 0)).orElseThrow();
            float[] head = LlamaCheckpoint.load(v1.dir(), m, ScoreHead.REQUIRED).get(LlamaWeights.SCORE_HEAD)
                    .toFloatArray();
            double distance = 0;
            double norm = 0;
            for (int i = 0; i < head.length; i++) {
                distance += Math.abs(head[i] - expected[i]);
                norm += Math.abs(expected[i]);
            }
            // One PPO step later the head has moved a little from the reward model's, and far from zero.
            assertTrue(norm > 0 && distance < 0.1 * norm, "distance " + distance + " of " + norm);
        }
    }

    /** The JSON lines of the trainer's scalar log, and a check that its TensorBoard event file exists too. */
    static List<com.google.gson.JsonObject> scalarLines(Path root) {
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(root.resolve("tensorboard"))) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("events.out.tfevents.")));
            return java.nio.file.Files.readAllLines(root.resolve("tensorboard/scalars.jsonl")).stream()
                    .map(l -> com.google.gson.JsonParser.parseString(l).getAsJsonObject()).toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
