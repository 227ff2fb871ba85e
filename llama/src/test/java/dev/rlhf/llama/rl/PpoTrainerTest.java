package dev.rlhf.llama.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.generate.SequenceScorer;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.TestModels;
import dev.rlhf.llama.runtime.GradMode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PpoTrainerTest {
    private static final int[] PROMPT = {1, 5, 3};
    private static final int[] GOOD = {20, 22, 2};
    private static final int[] BAD = {21, 23, 2};

    /** Right-padded training forward == the left-padded teacher-forced scorer, token by token. */
    @Test
    void responseLogProbsMatchTheSequenceScorer() {
        try (NDManager m = NDManager.newBaseManager(); GradMode.Restore ignored = GradMode.disabled()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 3);
            List<PpoTrainer.Rollout> rows = List.of(new PpoTrainer.Rollout(PROMPT, GOOD, 0),
                    new PpoTrainer.Rollout(new int[] {1, 7, 8, 9, 3}, new int[] {30, 2}, 0));
            PpoTrainer.Forward f = PpoTrainer.forward(model, rows, 0, true);
            int cols = (int) f.mask().getShape().get(1);
            List<double[]> mine = PpoTrainer.perResponse(f.logp().toFloatArray(), f.mask().toFloatArray(), rows, cols);
            List<float[]> reference = new SequenceScorer(model, 0).responseLogProbs(
                    rows.stream().map(PpoTrainer.Rollout::prompt).toList(),
                    rows.stream().map(PpoTrainer.Rollout::response).toList());
            for (int i = 0; i < rows.size(); i++) {
                assertEquals(rows.get(i).response().length, mine.get(i).length);
                for (int t = 0; t < mine.get(i).length; t++) {
                    assertEquals(reference.get(i)[t], mine.get(i)[t], 1e-4, "row " + i + " token " + t);
                }
            }
        }
    }

    /** Rewarding one response and penalising another moves probability mass towards the rewarded one. */
    @Test
    void iterationsRaiseTheLogProbabilityOfRewardedResponses() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            policy.weights().remove(LlamaWeights.SCORE_HEAD); // a policy checkpoint has no value head
            LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            List<PpoTrainer.Rollout> batch = goodAndBad(null, null);
            double before = gap(policy);
            PpoTrainer.Options o = options(4);
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, o, 0)) {
                assertTrue(policy.weights().has(LlamaWeights.SCORE_HEAD), "value head added");
                PpoTrainer.IterationStats first = ppo.iterate(batch);
                assertEquals(0, first.meanKl(), 1e-6, "policy == reference before any update");
                assertEquals(2, first.steps());
                for (int i = 0; i < 5; i++) {
                    ppo.iterate(batch);
                }
                assertEquals(12, ppo.steps());
            }
            double after = gap(policy);
            assertTrue(after > before + 1.0, "log p(good) - log p(bad): " + before + " -> " + after);
        }
    }

    /**
     * Sampling log-probabilities equal to the current policy's own (a fresh rollout) give the same iteration as
     * recomputing them: same statistics, same updated weights.
     */
    @Test
    void samplingLogProbsOfTheCurrentPolicyChangeNothing() {
        double[] gaps = new double[2];
        PpoTrainer.IterationStats[] stats = new PpoTrainer.IterationStats[2];
        for (int withSampled = 0; withSampled < 2; withSampled++) {
            try (NDManager m = NDManager.newBaseManager()) {
                LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
                LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 6);
                List<float[]> own = scorer(policy, List.of(GOOD, BAD));
                List<PpoTrainer.Rollout> batch = withSampled == 1 ? goodAndBad(own.get(0), own.get(1))
                        : goodAndBad(null, null);
                try (PpoTrainer ppo = new PpoTrainer(policy, reference, options(8), 0)) {
                    stats[withSampled] = ppo.iterate(batch);
                }
                gaps[withSampled] = gap(policy);
            }
        }
        assertEquals(stats[0].meanKl(), stats[1].meanKl(), 1e-5);
        assertEquals(stats[0].policyLoss(), stats[1].policyLoss(), 1e-5);
        assertEquals(0, stats[1].approxKl(), 1e-9, "ratio 1 at the first step");
        assertEquals(gaps[0], gaps[1], 1e-4);
    }

    /**
     * A rollout sampled by an older version: its tokens had log-probability 0.5 lower there than under the current
     * weights, so the first step starts at ratio e^0.5 = 1.65, above the clip range [0.8, 1.2]: approxKl =
     * 0.5 x 0.5^2 = 0.125 and the tokens with a positive advantage are clipped, where recomputing would report 0
     * and 0. The KL penalty is taken from the sampling policy too: k1 = -0.5 per token against a reference equal
     * to the current weights, -1.5 per 3-token response.
     */
    @Test
    void samplingLogProbsOfAnOlderVersionStartTheRatioAwayFromOne() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            List<float[]> own = scorer(policy, List.of(GOOD, BAD));
            List<PpoTrainer.Rollout> batch = goodAndBad(shift(own.get(0), -0.5f), shift(own.get(1), -0.5f));
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, options(8), 0)) {
                PpoTrainer.IterationStats s = ppo.iterate(batch);
                assertEquals(1, s.steps(), "one mini-batch: the step sees the weights the batch was scored with");
                assertEquals(0.125, s.approxKl(), 1e-4);
                assertTrue(s.clipFraction() > 0 && s.clipFraction() < 1, "clip fraction " + s.clipFraction());
                assertEquals(-1.5, s.meanKl(), 1e-4);
            }
        }
    }

    @Test
    void samplingLogProbsMustCoverEveryResponseToken() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new PpoTrainer.Rollout(PROMPT, GOOD, 1.0, new float[] {-1f, -2f}));
        assertTrue(e.getMessage().contains("3 tokens, 2 log-probabilities"), e.getMessage());
    }

    /** Four copies of the rewarded GOOD (+1) and the penalised BAD (-1), with their sampling log-probs or null. */
    private static List<PpoTrainer.Rollout> goodAndBad(float[] goodLogp, float[] badLogp) {
        List<PpoTrainer.Rollout> batch = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            batch.add(new PpoTrainer.Rollout(PROMPT, GOOD, 1.0, goodLogp));
            batch.add(new PpoTrainer.Rollout(PROMPT, BAD, -1.0, badLogp));
        }
        return batch;
    }

    private static PpoTrainer.Options options(int miniBatch) {
        return new PpoTrainer.Options(3e-3, miniBatch, 0.01, PpoRewards.KlEstimator.K1, 1.0, 0.95, 0.2, 0.2, 0.1, 0);
    }

    private static List<float[]> scorer(LlamaModel model, List<int[]> responses) {
        try (GradMode.Restore ignored = GradMode.disabled()) {
            return new SequenceScorer(model, 0).responseLogProbs(responses.stream().map(r -> PROMPT).toList(),
                    responses);
        }
    }

    private static float[] shift(float[] logp, float by) {
        float[] out = logp.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] += by;
        }
        return out;
    }

    /** PPO-ptx: with the demonstration term, the demonstration's likelihood rises; its loss is reported. */
    @Test
    void ptxTermRaisesTheLikelihoodOfTheDemonstrations() {
        int[] demoPrompt = {1, 6, 3};
        int[] demoAnswer = {24, 25, 2};
        List<dev.rlhf.llama.train.PackedSequence> rows = dev.rlhf.llama.train.Packing.pack(List.of(
                new dev.rlhf.llama.train.TrainingExample(demoPrompt, demoAnswer)), 16, 1, 3, 2, 0);
        double[] demoLogp = new double[2];
        double[] reported = new double[2];
        for (int withPtx = 0; withPtx < 2; withPtx++) {
            try (NDManager m = NDManager.newBaseManager()) {
                LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
                LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
                List<PpoTrainer.Rollout> batch = goodAndBad(null, null);
                PpoTrainer.Options o = options(4);
                try (PpoTrainer ppo = new PpoTrainer(policy, reference, o, 0)) {
                    if (withPtx == 1) {
                        ppo.withPtx(step -> rows, 1.0);
                    }
                    for (int i = 0; i < 4; i++) {
                        reported[withPtx] = ppo.iterate(batch).ptxLoss();
                    }
                }
                try (GradMode.Restore ignored = GradMode.disabled()) {
                    float[] lp = new SequenceScorer(policy, 0).responseLogProbs(List.of(demoPrompt),
                            List.of(demoAnswer)).get(0);
                    for (float v : lp) {
                        demoLogp[withPtx] += v;
                    }
                }
            }
        }
        assertEquals(0, reported[0], "no ptx term without withPtx");
        assertTrue(reported[1] > 0, "mean demonstration loss reported");
        assertTrue(demoLogp[1] > demoLogp[0] + 0.5, "log p(demo): without ptx " + demoLogp[0] + ", with "
                + demoLogp[1]);
    }

    /**
     * Fresh rollouts sampled at T = 0.7 with the log-probabilities the generator recorded: the trainer evaluates
     * pi_theta at the same temperature, so the first step's ratios are 1 (approxKl = 0.5 d^2 below 5e-9, i.e.
     * |d| < 1e-4) and nothing is clipped. Claiming T = 1 for the same rollouts mixes two distributions and the
     * ratios move away from 1.
     */
    @Test
    void freshRolloutsSampledAtATemperatureStartAtRatioOne() {
        double[] approxKl = new double[2];
        for (int claimT1 = 0; claimT1 < 2; claimT1++) {
            try (NDManager m = NDManager.newBaseManager()) {
                LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
                LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
                List<dev.rlhf.llama.generate.Sample> samples;
                try (GradMode.Restore ignored = GradMode.disabled()) {
                    samples = new dev.rlhf.llama.generate.Generator(policy, ids -> "", 0).generate(List.of(PROMPT),
                            new dev.rlhf.vocabulary.SamplingParams(8, 6, 0.7, 1.0, 0, 3, List.of()))
                            .samples().get(0);
                }
                List<PpoTrainer.Rollout> batch = new ArrayList<>();
                for (int i = 0; i < samples.size(); i++) {
                    batch.add(new PpoTrainer.Rollout(PROMPT, samples.get(i).tokens(), i % 2 == 0 ? 1 : -1,
                            samples.get(i).logprobs(), claimT1 == 1 ? 1.0 : 0.7, -1));
                }
                try (PpoTrainer ppo = new PpoTrainer(policy, reference, options(8), 0)) {
                    PpoTrainer.IterationStats s = ppo.iterate(batch);
                    approxKl[claimT1] = s.approxKl();
                    if (claimT1 == 0) {
                        assertEquals(0, s.clipFraction(), 0);
                    }
                }
            }
        }
        assertTrue(approxKl[0] < 5e-9, "approxKl at the sampling temperature " + approxKl[0]);
        assertTrue(approxKl[1] > 1e-4, "approxKl when T = 1 is claimed " + approxKl[1]);
    }

    @Test
    void aRolloutNeedsAPositiveTemperature() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new PpoTrainer.Rollout(PROMPT, GOOD, 1.0, null, 0, -1));
        assertTrue(e.getMessage().contains("greedy"), e.getMessage());
    }

    /** GRPO and RLOO learn from the groups alone: no value head is added, and the rewarded response gains. */
    @Test
    void groupEstimatorsRaiseTheRewardedResponseWithoutAValueHead() {
        for (PpoTrainer.Estimator e : List.of(PpoTrainer.Estimator.GRPO, PpoTrainer.Estimator.RLOO)) {
            try (NDManager m = NDManager.newBaseManager()) {
                LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
                policy.weights().remove(LlamaWeights.SCORE_HEAD);
                LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
                List<PpoTrainer.Rollout> batch = new ArrayList<>();
                for (int g = 0; g < 2; g++) {
                    for (int i = 0; i < 2; i++) {
                        batch.add(new PpoTrainer.Rollout(PROMPT, GOOD, 1.0, null, 1.0, g));
                        batch.add(new PpoTrainer.Rollout(PROMPT, BAD, -1.0, null, 1.0, g));
                    }
                }
                assertArrayEqualsInt(new int[] {4, 4}, PpoTrainer.groupSizes(batch));
                double before = gap(policy);
                try (PpoTrainer ppo = new PpoTrainer(policy, reference, options(8).withEstimator(e), 0)) {
                    assertTrue(!policy.weights().has(LlamaWeights.SCORE_HEAD), e + ": no value head");
                    PpoTrainer.IterationStats first = ppo.iterate(batch);
                    assertEquals(0, first.valueLoss(), 0);
                    assertEquals(0, first.klLoss(), 1e-9, e + ": policy == reference before any update");
                    for (int i = 0; i < 5; i++) {
                        ppo.iterate(batch);
                    }
                }
                double after = gap(policy);
                assertTrue(after > before + 1.0, e + ": log p(good) - log p(bad): " + before + " -> " + after);
            }
        }
    }

    /** Several epochs with a KL target: once a mini-batch's approximate KL passes 1.5 x target, the rest stops. */
    @Test
    void theKlTargetEndsAnIterationOfSeveralEpochsEarly() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, options(4).withEpochs(4, 1e-7), 0)) {
                PpoTrainer.IterationStats s = ppo.iterate(goodAndBad(null, null));
                assertTrue(s.stoppedEarly(), "stopped early");
                assertTrue(s.steps() >= 2 && s.steps() < 8, "steps " + s.steps());
            }
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, options(4).withEpochs(3, 0), 0)) {
                PpoTrainer.IterationStats s = ppo.iterate(goodAndBad(null, null));
                assertEquals(6, s.steps(), "3 epochs of 2 mini-batches");
                assertTrue(!s.stoppedEarly());
            }
        }
    }

    private static void assertArrayEqualsInt(int[] expected, int[] actual) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual);
    }

    /**
     * Value warm-up: the first 2 gradient steps train the value head alone (every other weight bit for bit as it
     * was), the third moves the policy; a value learning rate of 10x the policy's is the head's scale.
     */
    @Test
    void valueWarmupStepsTrainTheHeadAloneBeforeThePolicyMoves() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel policy = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            LlamaModel reference = TestModels.randomModel(m, TestModels.tinyGqa(), 5);
            String embed = "model.embed_tokens.weight";
            float[] embedBefore = policy.weights().get(embed).toFloatArray();
            float[] headBefore = policy.weights().get(LlamaWeights.SCORE_HEAD).toFloatArray();
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, options(8).withValueHead(3e-2, 2), 0)) {
                for (int i = 0; i < 2; i++) {
                    PpoTrainer.IterationStats s = ppo.iterate(goodAndBad(null, null));
                    assertEquals(0, s.policyLoss(), 1e-6, "no policy loss in a value step");
                    assertTrue(s.valueLoss() > 0);
                }
                org.junit.jupiter.api.Assertions.assertArrayEquals(embedBefore,
                        policy.weights().get(embed).toFloatArray(), 0f, "the trunk is frozen while the head warms up");
                float[] head = policy.weights().get(LlamaWeights.SCORE_HEAD).toFloatArray();
                assertTrue(!java.util.Arrays.equals(headBefore, head), "the value head learned");
                ppo.iterate(goodAndBad(null, null));
                assertTrue(!java.util.Arrays.equals(embedBefore, policy.weights().get(embed).toFloatArray()),
                        "after the warm-up the policy moves");
            }
        }
    }

    private static double gap(LlamaModel model) {
        try (GradMode.Restore ignored = GradMode.disabled()) {
            List<float[]> lp = new SequenceScorer(model, 0).responseLogProbs(List.of(PROMPT, PROMPT),
                    List.of(GOOD, BAD));
            double g = 0;
            for (int t = 0; t < GOOD.length; t++) {
                g += lp.get(0)[t] - lp.get(1)[t];
            }
            return g;
        }
    }
}
