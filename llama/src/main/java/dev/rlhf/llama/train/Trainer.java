package dev.rlhf.llama.train;

import dev.rlhf.llama.model.Tensors;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.model.LlamaWeights;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.stream.Collectors;

/**
 * One optimizer step = forward/backward over each micro-batch (gradients accumulate), global-norm clipping,
 * then AdamW at the scheduled learning rate. The loss of each micro-batch is a sum; the caller gives the
 * normaliser (e.g. the number of loss tokens in the whole step), so accumulation equals one big batch.
 */
public final class Trainer implements AutoCloseable {
    private final LlamaModel model;
    private final Map<String, NDArray> parameters;
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private final double maxGradNorm;
    private long step;
    /** Learning-rate multipliers per parameter name (absent: 1); 0 leaves a parameter alone for a step. */
    private final Map<String, Double> lrScale = new java.util.HashMap<>();

    public Trainer(LlamaModel model, LearningRateSchedule schedule, double maxGradNorm, Set<String> frozen) {
        this.model = model;
        this.schedule = schedule;
        this.maxGradNorm = maxGradNorm;
        this.parameters = new LinkedHashMap<>();
        // With a LoRA adapter only its matrices and the score head train: the base gets no gradient and no
        // AdamW moments.
        for (Map.Entry<String, NDArray> e : model.weights().trainable().entrySet()) {
            if (!frozen.contains(e.getKey())) {
                e.getValue().setRequiresGradient(true);
                parameters.put(e.getKey(), e.getValue());
            }
        }
        Set<String> noDecay = parameters.keySet().stream().filter(LlamaWeights::isNorm).collect(Collectors.toSet());
        this.optimizer = AdamW.llama2(model.weights().manager(), noDecay);
    }

    /** The recipe's clipping (1.0), nothing frozen. */
    public Trainer(LlamaModel model, LearningRateSchedule schedule) {
        this(model, schedule, GradientClipping.MAX_NORM, Set.of());
    }

    /**
     * Runs parameter {@code name} at {@code factor} x the schedule's rate from the next step on (a value head with
     * its own learning rate); 0 freezes it, moments included, until set again.
     */
    public void setLearningRateScale(String name, double factor) {
        if (!(factor >= 0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("learning-rate scale must be finite and >= 0, got " + factor);
        }
        if (!parameters.containsKey(name)) {
            throw new IllegalArgumentException("no trainable parameter " + name);
        }
        lrScale.put(name, factor);
    }

    /** The names of the trainable parameters. */
    public java.util.Set<String> parameterNames() {
        return java.util.Collections.unmodifiableSet(parameters.keySet());
    }

    /** What one step did. */
    public record StepResult(long step, double loss, double gradNorm, double learningRate) {}

    /**
     * @param lossSum per micro-batch: the summed loss (a scalar NDArray) of that micro-batch
     * @param normaliser the divisor that turns the summed losses of all micro-batches into the step's loss
     */
    public <M> StepResult step(List<M> microBatches, BiFunction<LlamaModel, M, NDArray> lossSum, double normaliser) {
        double total = 0;
        boolean dropout = model.weights().adapter() != null && model.weights().adapter().config().dropout() > 0;
        if (dropout) {
            // LoRA dropout draws from libtorch's generator: seeded from the step, a resumed run drops the same
            // inputs as the uninterrupted one.
            Engine.getInstance().setRandomSeed((int) (0x9E3779B97F4A7C15L * (step + 1) >>> 33));
            model.trainingDropout(true);
        }
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            for (M micro : microBatches) {
                try (NDScope ignored = new NDScope()) {
                    NDArray sum = lossSum.apply(model, micro);
                    // Multiply by a tensor, not div(Number): see Tensors on DJL scalars under autograd.
                    NDArray loss = sum.mul(Tensors.scalar(sum.getManager(), 1 / normaliser, sum.getDataType()));
                    collector.backward(loss);
                    total += loss.toType(DataType.FLOAT64, false).getDouble();
                }
            }
        } finally {
            model.trainingDropout(false);
        }
        double norm;
        double lr = schedule.at(step);
        try (GradMode.Restore noGrad = GradMode.disabled(); // in-place updates of leaf tensors
             NDScope ignored = new NDScope()) { // also frees the gradient handles getGradient() returns
            norm = GradientClipping.clipGlobalNorm(parameters.values(), maxGradNorm);
            if (!Double.isFinite(total) || !Double.isFinite(norm)) {
                // Never let NaN/inf reach the weights: the caller keeps its last good checkpoint.
                String culprit = parameters.entrySet().stream()
                        .filter(e -> !Double.isFinite(GradientClipping.squaredNorm(e.getValue())))
                        .map(Map.Entry::getKey).findFirst().orElse("none");
                zeroGradients();
                throw new NonFiniteLossException(step + 1, total, norm, culprit);
            }
            optimizer.step(parameters, lr, name -> lrScale.getOrDefault(name, 1.0));
            zeroGradients();
        }
        step++;
        return new StepResult(step, total, norm, lr);
    }

    /** SFT / pre-training step over packed rows: masked next-token loss averaged over all loss tokens. */
    public StepResult languageModelStep(List<List<PackedSequence>> microBatches) {
        double tokens = microBatches.stream().flatMap(List::stream).mapToDouble(PackedSequence::lossTokens).sum();
        return step(microBatches, Trainer::lmLossSum, Math.max(1, tokens));
    }

    /** Summed masked next-token loss of a micro-batch of packed rows. */
    public static NDArray lmLossSum(LlamaModel model, List<PackedSequence> rows) {
        NDManager m = model.weights().manager();
        int b = rows.size();
        int t = rows.get(0).length();
        long[] inputs = new long[b * t];
        long[] targets = new long[b * t];
        float[] mask = new float[b * t];
        long[] positions = new long[b * t];
        for (int r = 0; r < b; r++) {
            PackedSequence row = rows.get(r);
            for (int j = 0; j < t; j++) {
                inputs[r * t + j] = row.inputs()[j];
                targets[r * t + j] = row.targets()[j];
                mask[r * t + j] = row.lossMask()[j];
                positions[r * t + j] = j;
            }
        }
        Shape shape = new Shape(b, t);
        NDArray hidden = model.hidden(Tensors.of(m, inputs, shape), Tensors.of(m, positions, shape),
                m.ones(shape, DataType.INT32), null);
        return Losses.maskedNextTokenLossSum(model.logits(hidden), Tensors.of(m, targets, shape), Tensors.of(m, mask, shape));
    }

    private static final ai.djl.ndarray.index.NDIndex ALL = new ai.djl.ndarray.index.NDIndex("...");

    private void zeroGradients() {
        for (NDArray p : parameters.values()) {
            try (NDArray g = p.getGradient()) { // a handle: closing it keeps the gradient
                // A fill, not g - g: after a non-finite step, inf - inf would leave NaN for every later step.
                g.set(ALL, 0f);
            }
        }
    }

    /** Training diverged: the loss or the gradient norm is NaN or infinite; the weights were not updated. */
    public static final class NonFiniteLossException extends IllegalStateException {
        public NonFiniteLossException(long step, double loss, double gradNorm, String firstBadGradient) {
            super("step " + step + ": non-finite loss " + loss + " or gradient norm " + gradNorm
                    + " (first non-finite gradient: " + firstBadGradient
                    + "); weights left unchanged (lower the learning rate or check the data)");
        }
    }

    public long stepCount() {
        return step;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    public LlamaModel model() {
        return model;
    }

    /** Restores the step counter and optimizer state after loading the weights (see checkpoint resume). */
    public void restore(long stepCount, Map<String, NDArray> optimizerState) {
        this.step = stepCount;
        optimizer.load(optimizerState, stepCount);
    }

    @Override
    public void close() {
        for (NDArray p : parameters.values()) {
            p.setRequiresGradient(false);
        }
        optimizer.close();
    }
}
