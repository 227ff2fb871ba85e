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
            try (NDArray sq = p.getGradient().square().sum()) {
                sumSquares += sq.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
            }
        }
        double norm = Math.sqrt(sumSquares);
        if (norm > maxNorm) {
            double scale = maxNorm / (norm + 1e-6);
            for (NDArray p : parameters) {
                p.getGradient().muli(scale);
            }
        }
        return norm;
    }
}
