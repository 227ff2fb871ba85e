package dev.rlhf.llama.rl;

import dev.rlhf.vocabulary.Llama2Recipe;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.Tensors;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Losses;
import dev.rlhf.llama.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One iteration of the PPO family over a batch of rollouts (LLaMA 2 §3.2.3; estimator choices marked "ours" in
 * LLAMA2-RECIPE.md), the single policy learner of the trainer service, the stage commands and the demo:
 * <ol>
 *   <li>no-grad forward of the current policy (old log-probabilities, unless the rollout carries those of the
 *       version that sampled it, and values) and of the frozen reference pi_0 (reference log-probabilities) over
 *       prompt + response, at each rollout's sampling temperature;</li>
 *   <li>advantages by the options' {@link Estimator}: for PPO, per token {@code r_t = -beta * KL_t} plus the
 *       scalar reward R~c at the last token ({@link PpoRewards#tokenRewards}), GAE ({@link Advantages}) whitened
 *       over the batch; for GRPO and RLOO, one advantage per response from the samples of its prompt;</li>
 *   <li>shuffled mini-batches, one gradient step each, for {@code epochs} passes: clipped policy loss, plus
 *       valueCoef x clipped value loss (PPO) or beta x the k3 KL loss (GRPO) ({@link PpoLosses}), AdamW at a
 *       constant learning rate with clipping 1.0 ({@link Trainer}).</li>
 * </ol>
 * The value function is a scalar head on the policy's own trunk ({@link LlamaWeights#SCORE_HEAD}, zero-initialised
 * when absent): one forward pass gives both, as in early TRL (ours).
 */
public final class PpoTrainer implements AutoCloseable {
    /**
     * How the advantage of a response is estimated; the rest of the update (clipped surrogate over the sampled
     * tokens, mini-batches, AdamW) is shared, as verl's {@code adv_estimator} does.
     */
    public enum Estimator {
        /**
         * PPO: KL-penalised token rewards, a value head, GAE, advantages whitened over the batch (LLaMA 2 §3.2.3,
         * the estimator ours as InstructGPT/TRL).
         */
        GAE,
        /**
         * GRPO (Shao et al. 2024): {@link Advantages#groupNormalized} over the samples of one prompt, no value
         * head; the KL to pi_0 is a loss term, beta x {@link PpoLosses#klLoss}, not part of the reward.
         */
        GRPO,
        /**
         * RLOO (Ahmadian et al. 2024): the reward minus beta x the response's summed KL estimate, then
         * {@link Advantages#leaveOneOut} over the samples of one prompt; no value head.
         */
        RLOO;

        public boolean usesValueHead() {
            return this == GAE;
        }
    }

    /**
     * Hyper-parameters; {@link #llama2(long)} gives the recipe's values.
     * @param epochs passes over each rollout batch, reshuffled each time (LLaMA 2: 1)
     * @param targetKl stop the iteration's remaining mini-batches once one's approximate KL to pi_old exceeds
     *                 1.5 x this (ours, as OpenAI Spinning Up / Stable-Baselines3 {@code target_kl}); 0 = off
     * @param valueLearningRate the value head's own learning rate (0: the policy's); the trunk it shares moves at
     *                          the policy's rate
     * @param valueWarmupSteps the first gradient steps train the value head alone (value loss only, every other
     *                         parameter frozen), so that GAE does not start from a zero baseline (ours)
     */
    public record Options(double learningRate, int miniBatchSize, double beta, PpoRewards.KlEstimator klEstimator,
                          double gamma, double lambda, double clip, double valueClip, double valueCoef, long seed,
                          Estimator estimator, int epochs, double targetKl, double valueLearningRate,
                          int valueWarmupSteps) {
        public Options {
            if (!(learningRate > 0) || miniBatchSize < 1 || !(beta >= 0) || !(gamma >= 0 && gamma <= 1)
                    || !(lambda >= 0 && lambda <= 1) || !(clip > 0) || !(valueClip > 0) || !(valueCoef >= 0)
                    || estimator == null || epochs < 1 || !(targetKl >= 0) || !(valueLearningRate >= 0)
                    || valueWarmupSteps < 0) {
                throw new IllegalArgumentException("invalid PPO options: " + this);
            }
        }

        /** PPO (GAE), one epoch, no KL target. */
        public Options(double learningRate, int miniBatchSize, double beta, PpoRewards.KlEstimator klEstimator,
                       double gamma, double lambda, double clip, double valueClip, double valueCoef, long seed) {
            this(learningRate, miniBatchSize, beta, klEstimator, gamma, lambda, clip, valueClip, valueCoef, seed,
                    Estimator.GAE, 1, 0, 0, 0);
        }

        /** lr 1e-6 constant, mini-batch 64, beta 0.01, k1, GAE 1.0/0.95, clips 0.2, value coefficient 0.1. */
        public static Options llama2(long seed) {
            return new Options(Llama2Recipe.PPO_LEARNING_RATE, Llama2Recipe.PPO_MINI_BATCH, Llama2Recipe.PPO_BETA,
                    PpoRewards.KlEstimator.K1, Advantages.GAMMA, Advantages.LAMBDA, PpoLosses.CLIP,
                    PpoLosses.VALUE_CLIP, 0.1, seed);
        }

        public Options withEstimator(Estimator e) {
            return new Options(learningRate, miniBatchSize, beta, klEstimator, gamma, lambda, clip, valueClip,
                    valueCoef, seed, e, epochs, targetKl, valueLearningRate, valueWarmupSteps);
        }

        public Options withEpochs(int n, double kl) {
            return new Options(learningRate, miniBatchSize, beta, klEstimator, gamma, lambda, clip, valueClip,
                    valueCoef, seed, estimator, n, kl, valueLearningRate, valueWarmupSteps);
        }

        public Options withSeed(long newSeed) {
            return new Options(learningRate, miniBatchSize, beta, klEstimator, gamma, lambda, clip, valueClip,
                    valueCoef, newSeed, estimator, epochs, targetKl, valueLearningRate, valueWarmupSteps);
        }

        public Options withValueHead(double lr, int warmupSteps) {
            return new Options(learningRate, miniBatchSize, beta, klEstimator, gamma, lambda, clip, valueClip,
                    valueCoef, seed, estimator, epochs, targetKl, lr, warmupSteps);
        }
    }

    /**
     * One sampled response and its scalar reward, with the per-token log-probabilities of the policy version that
     * sampled it at its sampling temperature, or null when the rollout is on-policy (sampled by this trainer's
     * current weights) or they are unknown.
     * <p>With them, the PPO ratio and the KL penalty are taken against the sampling policy pi_old, as PPO defines
     * them (Schulman et al., 2017): a rollout sampled by an older version than the trainer's (the asynchronous
     * loop) then starts with ratio pi_theta / pi_old != 1, and the clip stops the update from moving further from
     * the policy that produced the data. Without them, the trainer's current weights stand in for pi_old.
     * <p>{@code temperature} is the one the response was sampled at: the trainer evaluates pi_theta, pi_old and
     * pi_0 as softmax(logits / T), the distribution the tokens came from (TRL and verl do the same), so a fresh
     * rollout starts at ratio 1 whatever T. {@code group} ties the samples of one prompt together for GRPO/RLOO
     * (consecutive rollouts with the same group form one group; -1: a group of its own).
     * <p>For GAE the reward is R~c (logit of the combined reward model score, whitened over the batch by the
     * caller); for GRPO/RLOO the reward model's raw logit (the group statistics replace the whitening).
     */
    public record Rollout(int[] prompt, int[] response, double reward, float[] behaviourLogp, double temperature,
                          int group) {
        public Rollout {
            if (prompt.length == 0 || response.length == 0) {
                throw new IllegalArgumentException("a rollout needs a prompt and at least one response token");
            }
            if (behaviourLogp != null && behaviourLogp.length != response.length) {
                throw new IllegalArgumentException("a rollout needs one sampling log-probability per response token: "
                        + response.length + " tokens, " + behaviourLogp.length + " log-probabilities");
            }
            if (!(temperature > 0) || Double.isInfinite(temperature)) {
                throw new IllegalArgumentException("a rollout's sampling temperature must be finite and > 0 (greedy "
                        + "responses have no distribution to correct for), got " + temperature);
            }
        }

        /** A rollout sampled at temperature 1, in a group of its own. */
        public Rollout(int[] prompt, int[] response, double reward, float[] behaviourLogp) {
            this(prompt, response, reward, behaviourLogp, 1, -1);
        }

        /** A rollout sampled by the trainer's current weights (on-policy) at temperature 1. */
        public Rollout(int[] prompt, int[] response, double reward) {
            this(prompt, response, reward, null);
        }
    }

    /**
     * What an iteration did: means over the batch (KL summed per response) and over the mini-batch steps;
     * {@code stoppedEarly} when the KL target ended it before its last mini-batch.
     */
    public record IterationStats(double meanKl, double meanReward, double policyLoss, double valueLoss,
                                 double clipFraction, double approxKl, double gradNorm, int steps, double ptxLoss,
                                 double klLoss, boolean stoppedEarly) {}

    private final LlamaModel policy;
    private final LlamaModel reference;
    private final Trainer trainer;
    private final Options options;
    private final int padId;
    private final SplittableRandom random;
    private java.util.function.LongFunction<List<PackedSequence>> ptxRows;
    private double ptxCoef;
    /** The KL coefficient; {@link #setBeta} lets an adaptive controller move it between iterations. */
    private double beta;

    /**
     * @param policy trained in place; gets a zero value head if it has none and the estimator uses one
     * @param reference pi_0, never updated
     */
    public PpoTrainer(LlamaModel policy, LlamaModel reference, Options options, int padId) {
        this(new Trainer(options.estimator().usesValueHead() ? withValueHead(policy) : policy,
                LearningRateSchedule.constant(options.learningRate())), reference, options, padId);
    }

    /**
     * Continues with an existing trainer (a resumed checkpoint: weights, step and AdamW moments); its model is the
     * policy and must already have the value head when the estimator uses one.
     */
    public PpoTrainer(Trainer trainer, LlamaModel reference, Options options, int padId) {
        if (options.estimator().usesValueHead() && !trainer.model().weights().has(LlamaWeights.SCORE_HEAD)) {
            throw new IllegalArgumentException("the PPO policy needs a value head (" + LlamaWeights.SCORE_HEAD + ")");
        }
        this.policy = trainer.model();
        this.reference = reference;
        this.options = options;
        this.padId = padId;
        this.random = new SplittableRandom(options.seed());
        this.trainer = trainer;
        this.beta = options.beta();
        if (options.estimator().usesValueHead() && options.valueLearningRate() > 0) {
            trainer.setLearningRateScale(LlamaWeights.SCORE_HEAD, options.valueLearningRate() / options.learningRate());
        }
    }

    /** The KL coefficient the next iteration uses. */
    public double beta() {
        return beta;
    }

    /** Sets the KL coefficient for the next iterations (an {@link AdaptiveKlController}'s value). */
    public void setBeta(double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException("beta must be a finite value >= 0, got " + value);
        }
        this.beta = value;
    }

    /**
     * PPO-ptx (Ouyang et al. 2022, InstructGPT; not in the LLaMA 2 recipe, ours here): every gradient step also
     * minimises {@code coef} x the mean next-token loss of {@code rowsForStep.apply(step)} (packed demonstrations),
     * so that optimising the reward models does not erode what they cannot check. Off unless called.
     */
    public PpoTrainer withPtx(java.util.function.LongFunction<List<PackedSequence>> rowsForStep,
                              double coef) {
        if (!(coef >= 0)) {
            throw new IllegalArgumentException("ptx coefficient must be >= 0, got " + coef);
        }
        this.ptxRows = rowsForStep;
        this.ptxCoef = coef;
        return this;
    }

    /** Adds a zero-initialised value head when the model has none (a fresh start from an SFT checkpoint). */
    public static LlamaModel withValueHead(LlamaModel policy) {
        LlamaWeights w = policy.weights();
        if (!w.has(LlamaWeights.SCORE_HEAD)) {
            w.put(LlamaWeights.SCORE_HEAD, w.manager().zeros(new Shape(1, policy.config().hiddenSize()),
                    w.dataType()));
        }
        return policy;
    }

    /** Per-token log-probabilities and values of the response tokens, with the mask of real response tokens. */
    record Forward(NDArray logp, NDArray values, NDArray mask) {}

    /**
     * Right-padded prompt + response rows; column j holds the prediction of token j + 1, which is a response token
     * when {@code p <= j + 1 < p + r}; values are read at the same column (the state before that token). Each
     * row's log-probabilities are those of softmax(logits / T) at its rollout's sampling temperature T.
     */
    static Forward forward(LlamaModel model, List<Rollout> rows, int padId, boolean withValues) {
        NDManager m = model.weights().manager();
        int b = rows.size();
        int width = 0;
        boolean tempered = false;
        float[] inverseTemperature = new float[b];
        for (int i = 0; i < b; i++) {
            Rollout r = rows.get(i);
            width = Math.max(width, r.prompt().length + r.response().length);
            inverseTemperature[i] = (float) (1 / r.temperature());
            tempered |= r.temperature() != 1;
        }
        long[] tokens = new long[b * width];
        long[] positions = new long[b * width];
        int[] keyMask = new int[b * width];
        long[] targets = new long[b * (width - 1)];
        float[] mask = new float[b * (width - 1)];
        for (int i = 0; i < b; i++) {
            int[] p = rows.get(i).prompt();
            int[] a = rows.get(i).response();
            for (int j = 0; j < width; j++) {
                int real = p.length + a.length;
                tokens[i * width + j] = j < p.length ? p[j] : j < real ? a[j - p.length] : padId;
                positions[i * width + j] = j;
                keyMask[i * width + j] = j < real ? 1 : 0;
                if (j < width - 1) {
                    targets[i * (width - 1) + j] = j + 1 < real ? tokens(p, a, j + 1) : padId;
                    mask[i * (width - 1) + j] = j + 1 >= p.length && j + 1 < real ? 1f : 0f;
                }
            }
        }
        Shape shape = new Shape(b, width);
        NDArray hidden = model.hidden(Tensors.of(m, tokens, shape), Tensors.of(m, positions, shape),
                Tensors.of(m, keyMask, shape), null); // (B, W, D)
        NDArray inputs = hidden.get(":, 0:" + (width - 1) + ", :"); // (B, W-1, D)
        NDArray logits = model.logits(inputs); // (B, W-1, V)
        if (tempered) {
            logits = logits.mul(Tensors.of(m, inverseTemperature, new Shape(b, 1, 1))
                    .toType(logits.getDataType(), false)); // (B, W-1, V) / T per row
        }
        NDArray logp = Losses.tokenLogProbs(logits, Tensors.of(m, targets, new Shape(b, width - 1)));
        NDArray values = withValues ? model.scalarScores(inputs) : null; // (B, W-1)
        return new Forward(logp, values, Tensors.of(m, mask, new Shape(b, width - 1)));
    }

    private static int tokens(int[] p, int[] a, int j) {
        return j < p.length ? p[j] : a[j - p.length];
    }

    /** Response-token entries of a (B, W-1) matrix, row by row in order. */
    static List<double[]> perResponse(float[] matrix, float[] mask, List<Rollout> rows, int cols) {
        List<double[]> out = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            double[] v = new double[rows.get(i).response().length];
            int k = 0;
            for (int j = 0; j < cols; j++) {
                if (mask[i * cols + j] > 0) {
                    v[k++] = matrix[i * cols + j];
                }
            }
            out.add(v);
        }
        return out;
    }

    /** Sizes of the runs of consecutive rollouts with the same group (-1: always a group of its own). */
    static int[] groupSizes(List<Rollout> batch) {
        List<Integer> sizes = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            int g = batch.get(i).group();
            if (i > 0 && g != -1 && g == batch.get(i - 1).group()) {
                sizes.set(sizes.size() - 1, sizes.get(sizes.size() - 1) + 1);
            } else {
                sizes.add(1);
            }
        }
        return sizes.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Runs one iteration on {@code batch} with the options' estimator; the policy's weights change. */
    public IterationStats iterate(List<Rollout> batch) {
        if (batch.size() < 2) {
            throw new IllegalArgumentException("PPO whitens over the batch and needs at least 2 rollouts");
        }
        boolean gae = options.estimator() == Estimator.GAE;
        // 1. Rollout constants under the current policy and the reference.
        List<double[]> oldLogp = new ArrayList<>();
        List<double[]> oldValues = gae ? new ArrayList<>() : null;
        List<double[]> refLogp = new ArrayList<>();
        try (GradMode.Restore noGrad = GradMode.disabled()) {
            // A mini-batch at a time, each pass in its own scope: a scope frees its arrays only when it closes, so
            // one no-grad pass over the whole batch held every layer's activations (and LoRA's) until the end.
            for (int start = 0; start < batch.size(); start += options.miniBatchSize()) {
                List<Rollout> rows = batch.subList(start, Math.min(batch.size(), start + options.miniBatchSize()));
                float[] maskFlat;
                int cols;
                try (NDScope ignored = new NDScope()) {
                    Forward now = forward(policy, rows, padId, gae);
                    cols = (int) now.mask().getShape().get(1);
                    maskFlat = now.mask().toFloatArray();
                    oldLogp.addAll(perResponse(now.logp().toType(DataType.FLOAT32, false).toFloatArray(), maskFlat,
                            rows, cols));
                    if (gae) {
                        oldValues.addAll(perResponse(now.values().toType(DataType.FLOAT32, false).toFloatArray(),
                                maskFlat, rows, cols));
                    }
                }
                try (NDScope ignored = new NDScope()) {
                    Forward ref = forward(reference, rows, padId, false);
                    refLogp.addAll(perResponse(ref.logp().toType(DataType.FLOAT32, false).toFloatArray(), maskFlat,
                            rows, cols));
                }
            }
        }
        for (int i = 0; i < batch.size(); i++) {
            float[] sampled = batch.get(i).behaviourLogp();
            if (sampled != null) {
                oldLogp.set(i, toDoubles(sampled)); // pi_old is the version that sampled, not the current one
            }
        }
        // 2-3. Advantages (and, for GAE, returns) per response token.
        List<double[]> advantages = new ArrayList<>();
        List<double[]> returns = gae ? new ArrayList<>() : null;
        double klSum = 0;
        double rewardSum = 0;
        double[] sequenceRewards = new double[batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            float[] lp = toFloats(oldLogp.get(i));
            float[] rlp = toFloats(refLogp.get(i));
            double kl = 0;
            for (double k : PpoRewards.kl(lp, rlp, options.klEstimator())) {
                kl += k;
            }
            klSum += kl;
            rewardSum += batch.get(i).reward();
            if (gae) {
                double[] rewards = PpoRewards.tokenRewards(batch.get(i).reward(), lp, rlp, beta,
                        options.klEstimator());
                double[] adv = Advantages.gae(rewards, oldValues.get(i), options.gamma(), options.lambda());
                advantages.add(adv);
                returns.add(Advantages.returns(adv, oldValues.get(i)));
            } else {
                // RLOO puts the KL penalty into the sequence reward (TRL RLOOTrainer); GRPO keeps it in the loss.
                sequenceRewards[i] = batch.get(i).reward()
                        - (options.estimator() == Estimator.RLOO ? beta * kl : 0);
            }
        }
        if (gae) {
            List<boolean[]> masks = new ArrayList<>();
            advantages.forEach(a -> masks.add(Advantages.all(a.length)));
            advantages = Advantages.whiten(advantages, masks, true);
        } else {
            int[] groups = groupSizes(batch);
            double[] perResponse = options.estimator() == Estimator.GRPO
                    ? Advantages.groupNormalized(sequenceRewards, groups)
                    : Advantages.leaveOneOut(sequenceRewards, groups);
            for (int i = 0; i < batch.size(); i++) {
                double[] a = new double[batch.get(i).response().length];
                java.util.Arrays.fill(a, perResponse[i]); // an outcome reward: every token gets the response's
                advantages.add(a);
            }
        }
        final List<double[]> adv = advantages;
        final List<double[]> oldV = oldValues;

        // 4. Shuffled mini-batches, one step each, for each epoch; the KL target can end the iteration early.
        double pl = 0;
        double vl = 0;
        double kll = 0;
        double cf = 0;
        double ak = 0;
        double gn = 0;
        double pt = 0;
        int steps = 0;
        boolean stoppedEarly = false;
        for (int epoch = 0; epoch < options.epochs() && !stoppedEarly; epoch++) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                order.add(i);
            }
            for (int i = order.size() - 1; i > 0; i--) {
                java.util.Collections.swap(order, i, random.nextInt(i + 1));
            }
            for (int start = 0; start < order.size(); start += options.miniBatchSize()) {
                List<Integer> idx = order.subList(start, Math.min(order.size(), start + options.miniBatchSize()));
                List<Rollout> rows = idx.stream().map(batch::get).toList();
                double[] stats = new double[5];
                // Value warm-up: the head alone learns the returns before the policy moves (its trunk is shared,
                // so every other parameter is frozen for these steps).
                boolean valueOnly = gae && trainer.stepCount() < options.valueWarmupSteps();
                if (valueOnly) {
                    freezeAllBut(LlamaWeights.SCORE_HEAD);
                }
                List<PackedSequence> ptx = ptxRows != null && ptxCoef > 0 && !valueOnly
                        ? ptxRows.apply(trainer.stepCount()) : List.of();
                double ptxTokens = Math.max(1, ptx.stream().mapToDouble(PackedSequence::lossTokens).sum());
                Trainer.StepResult r = trainer.step(List.of(rows), (model, mb) -> {
                    Forward f = forward(model, mb, padId, gae);
                    NDManager m = f.logp().getManager();
                    Shape s = f.mask().getShape();
                    float[] mf = f.mask().toFloatArray();
                    PpoLosses.PolicyLoss p = PpoLosses.policyLoss(f.logp(), place(m, idx, oldLogp, mf, s),
                            place(m, idx, adv, mf, s), f.mask(), options.clip());
                    stats[0] = p.clipFraction();
                    stats[1] = p.approxKl();
                    NDArray loss = valueOnly ? p.loss().mul(Tensors.scalar(m, 0, p.loss().getDataType())) : p.loss();
                    if (gae) {
                        PpoLosses.ValueLoss v = PpoLosses.valueLoss(f.values(), place(m, idx, oldV, mf, s),
                                place(m, idx, returns, mf, s), f.mask(), options.valueClip());
                        stats[2] = v.loss().toType(DataType.FLOAT64, false).getDouble();
                        loss = loss.add(v.loss().mul(Tensors.scalar(m, options.valueCoef(), v.loss().getDataType())));
                    } else if (options.estimator() == Estimator.GRPO && beta > 0) {
                        NDArray kl = PpoLosses.klLoss(f.logp(), place(m, idx, refLogp, mf, s), f.mask());
                        stats[4] = kl.toType(DataType.FLOAT64, false).getDouble();
                        loss = loss.add(kl.mul(Tensors.scalar(m, beta, kl.getDataType())));
                    }
                    if (!ptx.isEmpty()) {
                        NDArray lm = Trainer.lmLossSum(model, ptx);
                        stats[3] = lm.toType(DataType.FLOAT64, false).getDouble() / ptxTokens;
                        loss = loss.add(lm.mul(Tensors.scalar(m, ptxCoef / ptxTokens, lm.getDataType())));
                    }
                    return loss;
                }, 1.0);
                if (valueOnly) {
                    unfreeze();
                }
                vl += stats[2];
                pt += stats[3];
                kll += stats[4];
                pl += r.loss() - options.valueCoef() * stats[2] - ptxCoef * stats[3] - beta * stats[4];
                cf += stats[0];
                ak += stats[1];
                gn += r.gradNorm();
                steps++;
                if (options.targetKl() > 0 && stats[1] > 1.5 * options.targetKl()) {
                    stoppedEarly = epoch < options.epochs() - 1 || start + options.miniBatchSize() < order.size();
                    break;
                }
            }
        }
        return new IterationStats(klSum / batch.size(), rewardSum / batch.size(), pl / steps, vl / steps,
                cf / steps, ak / steps, gn / steps, steps, pt / steps, kll / steps, stoppedEarly);
    }

    private void freezeAllBut(String name) {
        for (String p : trainer.parameterNames()) {
            if (!p.equals(name)) {
                trainer.setLearningRateScale(p, 0);
            }
        }
    }

    private void unfreeze() {
        for (String p : trainer.parameterNames()) {
            if (!p.equals(LlamaWeights.SCORE_HEAD)) {
                trainer.setLearningRateScale(p, 1);
            }
        }
    }

    /** Lays per-response values into the (B, W-1) layout of a mini-batch's forward pass. */
    private static NDArray place(NDManager m, List<Integer> idx, List<double[]> values, float[] mask, Shape s) {
        int cols = (int) s.get(1);
        float[] out = new float[idx.size() * cols];
        for (int i = 0; i < idx.size(); i++) {
            double[] v = values.get(idx.get(i));
            int k = 0;
            for (int j = 0; j < cols; j++) {
                if (mask[i * cols + j] > 0) {
                    out[i * cols + j] = (float) v[k++];
                }
            }
        }
        return Tensors.of(m, out, s);
    }

    private static double[] toDoubles(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    private static float[] toFloats(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    public LlamaModel policy() {
        return policy;
    }

    public long steps() {
        return trainer.stepCount();
    }

    /** The optimiser state and step count, for checkpoints. */
    public Trainer trainer() {
        return trainer;
    }

    @Override
    public void close() {
        trainer.close();
    }
}
