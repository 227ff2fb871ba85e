package dev.rlhf.llama.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * AdamW with decoupled weight decay (Loshchilov and Hutter, 2019), in PyTorch's form:
 * {@code p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * m_hat / (sqrt(v_hat) + eps)}.
 * LLaMA 2 §2.2: beta1 0.9, beta2 0.95, eps 1e-5, weight decay 0.1; no decay on norm gains.
 */
public final class AdamW implements AutoCloseable {
    public static final double BETA1 = 0.9;
    public static final double BETA2 = 0.95;
    public static final double EPS = 1e-5;
    public static final double WEIGHT_DECAY = 0.1;

    private final NDManager manager;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final Set<String> noDecay;
    private final Map<String, NDArray> firstMoment = new LinkedHashMap<>();
    private final Map<String, NDArray> secondMoment = new LinkedHashMap<>();
    private long steps;

    public AdamW(NDManager parent, double beta1, double beta2, double eps, double weightDecay, Set<String> noDecay) {
        this.manager = parent.newSubManager();
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.noDecay = Set.copyOf(noDecay);
    }

    /** The recipe's settings. */
    public static AdamW llama2(NDManager parent, Set<String> noDecay) {
        return new AdamW(parent, BETA1, BETA2, EPS, WEIGHT_DECAY, noDecay);
    }

    /** One update of every parameter from its gradient, in place. Must run outside gradient recording. */
    public void step(Map<String, NDArray> parameters, double lr) {
        step(parameters, lr, name -> 1.0);
    }

    /**
     * As {@link #step(Map, double)} with parameter {@code name} at {@code lr * lrScale(name)}; a parameter whose
     * scale is 0 is left alone entirely, its moments included (a frozen phase, not a zero-rate update).
     */
    public void step(Map<String, NDArray> parameters, double lr, java.util.function.ToDoubleFunction<String> lrScale) {
        steps++;
        double bias1 = 1 - Math.pow(beta1, steps);
        double bias2 = 1 - Math.pow(beta2, steps);
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            String name = e.getKey();
            double scale = lrScale.applyAsDouble(name);
            if (scale == 0) {
                continue;
            }
            double rate = lr * scale;
            NDArray p = e.getValue();
            NDArray g = p.getGradient();
            NDArray m = firstMoment.computeIfAbsent(name, k -> persistent(manager.zeros(p.getShape(), p.getDataType())));
            NDArray v = secondMoment.computeIfAbsent(name, k -> persistent(manager.zeros(p.getShape(), p.getDataType())));
            // PyTorch's order: denom = sqrt(v) / sqrt(bias2) + eps; p -= (lr / bias1) * m / denom. Each temporary
            // is closed as soon as it is used: left to the step's NDScope, every parameter's temporaries would be
            // alive at once (several copies of the model at the end of the step).
            try (NDArray scaled = g.mul(1 - beta1)) {
                m.muli(beta1).addi(scaled);
            }
            try (NDArray squared = g.square()) {
                v.muli(beta2).addi(squared.muli(1 - beta2));
            }
            if (!noDecay.contains(name) && weightDecay != 0) {
                p.muli(1 - rate * weightDecay);
            }
            try (NDArray denom = v.sqrt()) {
                denom.divi(Math.sqrt(bias2)).addi(eps);
                try (NDArray update = m.div(denom)) {
                    p.subi(update.muli(rate / bias1));
                }
            }
            g.close(); // the handle getGradient() returned, not the gradient itself
        }
    }

    /** Optimizer state outlives the per-step {@link ai.djl.ndarray.NDScope} it may be created in. */
    private static NDArray persistent(NDArray array) {
        ai.djl.ndarray.NDScope.unregister(array);
        return array;
    }

    public long steps() {
        return steps;
    }

    /** Optimizer state for checkpoints: "m." and "v." + parameter name. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> s = new LinkedHashMap<>();
        firstMoment.forEach((k, v) -> s.put("m." + k, v));
        secondMoment.forEach((k, v) -> s.put("v." + k, v));
        return s;
    }

    /** Restores moments and the step count saved by {@link #state()}. */
    public void load(Map<String, NDArray> state, long stepCount) {
        firstMoment.clear();
        secondMoment.clear();
        for (Map.Entry<String, NDArray> e : state.entrySet()) {
            NDArray copy = persistent(e.getValue().duplicate());
            copy.attach(manager);
            if (e.getKey().startsWith("m.")) {
                firstMoment.put(e.getKey().substring(2), copy);
            } else if (e.getKey().startsWith("v.")) {
                secondMoment.put(e.getKey().substring(2), copy);
            } else {
                throw new IllegalArgumentException("unexpected optimizer state tensor " + e.getKey());
            }
        }
        this.steps = stepCount;
    }

    @Override
    public void close() {
        manager.close();
    }
}
