package dev.rlhf.llama.train;

import ai.djl.ndarray.NDArray;
import java.util.Collection;

/** Global-norm gradient clipping (LLaMA 2 §2.2: clip at 1.0). */
public final class GradientClipping {
    public static final double MAX_NORM = 1.0;

    private GradientClipping() {}

    /** Scales all gradients by min(1, maxNorm / ||g||) in place; returns the norm before clipping. */
    public static double clipGlobalNorm(Collection<NDArray> parameters, double maxNorm) {
        double sumSquares = 0;
        for (NDArray p : parameters) {
            sumSquares += squaredNorm(p);
        }
        double norm = Math.sqrt(sumSquares);
        if (norm > maxNorm) {
            double scale = maxNorm / (norm + 1e-6);
            for (NDArray p : parameters) {
                try (NDArray g = p.getGradient()) { // a handle on the gradient: closing it keeps the gradient
                    g.muli(scale);
                }
            }
        }
        return norm;
    }

    /** Squared L2 norm of a parameter's gradient, accumulated in float64. */
    public static double squaredNorm(NDArray parameter) {
        // Each temporary closed at once: a parameter-sized square per parameter would otherwise stay alive until
        // the caller's scope ends (a full copy of the model).
        try (NDArray g = parameter.getGradient(); NDArray squares = g.square(); NDArray sum = squares.sum();
             NDArray wide = sum.toType(ai.djl.ndarray.types.DataType.FLOAT64, false)) {
            return wide.getDouble();
        }
    }
}
