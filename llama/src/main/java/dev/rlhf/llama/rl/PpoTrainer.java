package dev.rlhf.llama.rl;

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
 * One PPO iteration over a batch of rollouts (LLaMA 2 §3.2.3; estimator choices marked "ours" in
 * LLAMA2-RECIPE.md):
 * <ol>
 *   <li>no-grad forward of the current policy (old log-probabilities, unless the rollout carries those of the
 *       version that sampled it, and values) and of the frozen reference pi_0 (reference log-probabilities) over
 *       prompt + response;</li>
 *   <li>per token {@code r_t = -beta * KL_t}, plus the scalar reward R~c (already logit-transformed and whitened)
 *       at the last token ({@link PpoRewards#tokenRewards});</li>
 *   <li>GAE advantages and returns ({@link Advantages}), advantages whitened over the batch;</li>
 *   <li>shuffled mini-batches, one gradient step each: clipped policy loss + valueCoef x clipped value loss
 *       ({@link PpoLosses}), AdamW at a constant learning rate with clipping 1.0 ({@link Trainer}).</li>
 * </ol>
 * The value function is a scalar head on the policy's own trunk ({@link LlamaWeights#SCORE_HEAD}, zero-initialised
 * when absent): one forward pass gives both, as in early TRL (ours).
 */
public final class PpoTrainer implements AutoCloseable {
    /** PPO hyper-parameters; {@link #llama2(double)} gives the recipe's values. */
    public record Options(double learningRate, int miniBatchSize, double beta, PpoRewards.KlEstimator klEstimator,
                          double gamma, double lambda, double clip, double valueClip, double valueCoef, long seed) {
        public Options {
            if (!(learningRate > 0) || miniBatchSize < 1 || !(beta >= 0) || !(gamma >= 0 && gamma <= 1)
                    || !(lambda >= 0 && lambda <= 1) || !(clip > 0) || !(valueClip > 0) || !(valueCoef >= 0)) {
                throw new IllegalArgumentException("invalid PPO options: " + this);
            }
        }

        /** lr 1e-6 constant, mini-batch 64, beta 0.01, k1, GAE 1.0/0.95, clips 0.2, value coefficient 0.1. */
        public static Options llama2(long seed) {
            return new Options(1e-6, 64, PpoRewards.BETA, PpoRewards.KlEstimator.K1, Advantages.GAMMA,
                    Advantages.LAMBDA, PpoLosses.CLIP, PpoLosses.VALUE_CLIP, 0.1, seed);
        }
    }

    /**
     * One sampled response and its scalar reward R~c (logit of the combined reward model score, whitened over the
     * batch by the caller), with the per-token log-probabilities (temperature 1) of the policy version that sampled
     * it, or null when the rollout is on-policy (sampled by this trainer's current weights) or they are unknown.
     * <p>With them, the PPO ratio and the KL penalty are taken against the sampling policy pi_old, as PPO defines
     * them (Schulman et al., 2017): a rollout sampled by an older version than the trainer's (the asynchronous
     * loop) then starts with ratio pi_theta / pi_old != 1, and the clip stops the update from moving further from
     * the policy that produced the data. Without them, the trainer's current weights stand in for pi_old.
     */
    public record Rollout(int[] prompt, int[] response, double reward, float[] behaviourLogp) {
        public Rollout {
            if (prompt.length == 0 || response.length == 0) {
                throw new IllegalArgumentException("a rollout needs a prompt and at least one response token");
            }
            if (behaviourLogp != null && behaviourLogp.length != response.length) {
                throw new IllegalArgumentException("a rollout needs one sampling log-probability per response token: "
                        + response.length + " tokens, " + behaviourLogp.length + " log-probabilities");
            }
        }

        /** A rollout sampled by the trainer's current weights (on-policy). */
        public Rollout(int[] prompt, int[] response, double reward) {
            this(prompt, response, reward, null);
        }
    }

    /** What an iteration did: means over the batch (KL summed per response) and over the mini-batch steps. */
    public record IterationStats(double meanKl, double meanReward, double policyLoss, double valueLoss,
                                 double clipFraction, double approxKl, double gradNorm, int steps, double ptxLoss) {}

    private final LlamaModel policy;
    private final LlamaModel reference;
    private final Trainer trainer;
    private final Options options;
    private final int padId;
    private final SplittableRandom random;
    private java.util.function.LongFunction<List<PackedSequence>> ptxRows;
    private double ptxCoef;

    /**
     * @param policy trained in place; gets a zero value head if it has none
     * @param reference pi_0, never updated
     */
    public PpoTrainer(LlamaModel policy, LlamaModel reference, Options options, int padId) {
        this(new Trainer(withValueHead(policy), LearningRateSchedule.constant(options.learningRate())), reference,
                options, padId);
    }

    /**
     * Continues with an existing trainer (a resumed checkpoint: weights, step and AdamW moments); its model is the
     * policy and must already have the value head.
     */
    public PpoTrainer(Trainer trainer, LlamaModel reference, Options options, int padId) {
        if (!trainer.model().weights().has(LlamaWeights.SCORE_HEAD)) {
            throw new IllegalArgumentException("the PPO policy needs a value head (" + LlamaWeights.SCORE_HEAD + ")");
        }
        this.policy = trainer.model();
        this.reference = reference;
        this.options = options;
        this.padId = padId;
        this.random = new SplittableRandom(options.seed());
        this.trainer = trainer;
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
     * when {@code p <= j + 1 < p + r}; values are read at the same column (the state before that token).
     */
    static Forward forward(LlamaModel model, List<Rollout> rows, int padId, boolean withValues) {
        NDManager m = model.weights().manager();
        int b = rows.size();
        int width = 0;
        for (Rollout r : rows) {
            width = Math.max(width, r.prompt().length + r.response().length);
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
        NDArray logp = Losses.tokenLogProbs(model.logits(inputs), Tensors.of(m, targets, new Shape(b, width - 1)));
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

    /** Runs one PPO iteration on {@code batch}; the policy's weights change. */
    public IterationStats iterate(List<Rollout> batch) {
        if (batch.size() < 2) {
            throw new IllegalArgumentException("PPO whitens over the batch and needs at least 2 rollouts");
        }
        // 1. Rollout constants under the current policy and the reference.
        List<double[]> oldLogp;
        List<double[]> oldValues;
        List<double[]> refLogp;
        int cols;
        float[] maskFlat;
        try (GradMode.Restore noGrad = GradMode.disabled(); NDScope ignored = new NDScope()) {
            Forward now = forward(policy, batch, padId, true);
            Forward ref = forward(reference, batch, padId, false);
            cols = (int) now.mask().getShape().get(1);
            maskFlat = now.mask().toFloatArray();
            oldLogp = perResponse(now.logp().toType(DataType.FLOAT32, false).toFloatArray(), maskFlat, batch, cols);
            for (int i = 0; i < batch.size(); i++) {
                float[] sampled = batch.get(i).behaviourLogp();
                if (sampled != null) {
                    oldLogp.set(i, toDoubles(sampled)); // pi_old is the version that sampled, not the current one
                }
            }
            oldValues = perResponse(now.values().toType(DataType.FLOAT32, false).toFloatArray(), maskFlat, batch,
                    cols);
            refLogp = perResponse(ref.logp().toType(DataType.FLOAT32, false).toFloatArray(), maskFlat, batch, cols);
        }
        // 2-3. KL-penalised token rewards, GAE, returns; advantages whitened over the whole batch.
        List<double[]> advantages = new ArrayList<>();
        List<double[]> returns = new ArrayList<>();
        List<boolean[]> masks = new ArrayList<>();
        double klSum = 0;
        double rewardSum = 0;
        for (int i = 0; i < batch.size(); i++) {
            float[] lp = toFloats(oldLogp.get(i));
            float[] rlp = toFloats(refLogp.get(i));
            double[] rewards = PpoRewards.tokenRewards(batch.get(i).reward(), lp, rlp, options.beta(),
                    options.klEstimator());
            for (double k : PpoRewards.kl(lp, rlp, options.klEstimator())) {
                klSum += k;
            }
            rewardSum += batch.get(i).reward();
            double[] adv = Advantages.gae(rewards, oldValues.get(i), options.gamma(), options.lambda());
            advantages.add(adv);
            returns.add(Advantages.returns(adv, oldValues.get(i)));
            masks.add(Advantages.all(adv.length));
        }
        List<double[]> whitened = Advantages.whiten(advantages, masks, true);

        // 4. Shuffled mini-batches, one step each.
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            order.add(i);
        }
        for (int i = order.size() - 1; i > 0; i--) {
            java.util.Collections.swap(order, i, random.nextInt(i + 1));
        }
        double pl = 0;
        double vl = 0;
        double cf = 0;
        double ak = 0;
        double gn = 0;
        double pt = 0;
        int steps = 0;
        for (int start = 0; start < order.size(); start += options.miniBatchSize()) {
            List<Integer> idx = order.subList(start, Math.min(order.size(), start + options.miniBatchSize()));
            List<Rollout> rows = idx.stream().map(batch::get).toList();
            double[] stats = new double[4];
            List<PackedSequence> ptx = ptxRows != null && ptxCoef > 0
                    ? ptxRows.apply(trainer.stepCount()) : List.of();
            double ptxTokens = Math.max(1, ptx.stream().mapToDouble(PackedSequence::lossTokens)
                    .sum());
            Trainer.StepResult r = trainer.step(List.of(rows), (model, mb) -> {
                Forward f = forward(model, mb, padId, true);
                NDManager m = f.logp().getManager();
                Shape s = f.mask().getShape();
                float[] mf = f.mask().toFloatArray();
                NDArray oldLp = place(m, idx, oldLogp, mf, s);
                NDArray oldV = place(m, idx, oldValues, mf, s);
                NDArray adv = place(m, idx, whitened, mf, s);
                NDArray ret = place(m, idx, returns, mf, s);
                PpoLosses.PolicyLoss p = PpoLosses.policyLoss(f.logp(), oldLp, adv, f.mask(), options.clip());
                PpoLosses.ValueLoss v = PpoLosses.valueLoss(f.values(), oldV, ret, f.mask(), options.valueClip());
                stats[0] = p.clipFraction();
                stats[1] = p.approxKl();
                stats[2] = v.loss().toType(DataType.FLOAT64, false).getDouble();
                NDArray loss = p.loss().add(v.loss().mul(Tensors.scalar(m, options.valueCoef(),
                        v.loss().getDataType())));
                if (!ptx.isEmpty()) {
                    NDArray lm = Trainer.lmLossSum(model, ptx);
                    stats[3] = lm.toType(DataType.FLOAT64, false).getDouble() / ptxTokens;
                    loss = loss.add(lm.mul(Tensors.scalar(m, ptxCoef / ptxTokens, lm.getDataType())));
                }
                return loss;
            }, 1.0);
            vl += stats[2];
            pt += stats[3];
            pl += r.loss() - options.valueCoef() * stats[2] - ptxCoef * stats[3];
            cf += stats[0];
            ak += stats[1];
            gn += r.gradNorm();
            steps++;
        }
        return new IterationStats(klSum / batch.size(), rewardSum / batch.size(), pl / steps, vl / steps,
                cf / steps, ak / steps, gn / steps, steps, pt / steps);
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
