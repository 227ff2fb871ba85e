package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.RopeScaling;

/**
 * Rotary position embeddings (Su et al., 2021; LLaMA 2 §2.2) in Hugging Face's rotate-half form:
 * {@code x' = x * cos + rotateHalf(x) * sin}, with {@code cos = [cos(p * f), cos(p * f)]} and
 * {@code f_j = theta^(-2j / headDim)}, stretched by the config's {@link RopeScaling} when it has one.
 */
public final class RotaryEmbedding implements AutoCloseable {
    private final NDArray cos; // (maxPositions, headDim)
    private final NDArray sin; // (maxPositions, headDim)

    public RotaryEmbedding(NDManager manager, int maxPositions, int headDim, double theta, DataType dtype) {
        this(manager, maxPositions, headDim, RopeScaling.inverseFrequencies(headDim, theta, null), dtype);
    }

    /** Tables for {@code maxPositions} positions from the inverse frequencies ({@link RopeScaling}). */
    public RotaryEmbedding(NDManager manager, int maxPositions, int headDim, double[] inverseFrequencies,
                           DataType dtype) {
        int half = headDim / 2;
        if (inverseFrequencies.length != half) {
            throw new IllegalArgumentException(inverseFrequencies.length + " frequencies for head dim " + headDim);
        }
        // float tables: a 131072-position Llama 3.1 context would need 256 MiB as doubles.
        float[] cosTable = new float[Math.multiplyExact(maxPositions, headDim)];
        float[] sinTable = new float[cosTable.length];
        for (int p = 0; p < maxPositions; p++) {
            for (int j = 0; j < half; j++) {
                double angle = p * inverseFrequencies[j];
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                cosTable[p * headDim + j] = c;
                cosTable[p * headDim + j + half] = c;
                sinTable[p * headDim + j] = s;
                sinTable[p * headDim + j + half] = s;
            }
        }
        Shape shape = new Shape(maxPositions, headDim);
        this.cos = Tensors.of(manager, cosTable, shape).toType(dtype, false);
        this.sin = Tensors.of(manager, sinTable, shape).toType(dtype, false);
    }

    /**
     * Cos and sin for each position. positions: (B, T) int64 -> two arrays (B, 1, T, headDim), ready to
     * broadcast over heads.
     */
    public NDArray[] cosSin(NDArray positions) {
        NDManager m = positions.getManager();
        NDArray c = cos.get(m, new NDIndex("{}", positions)).expandDims(1);
        NDArray s = sin.get(m, new NDIndex("{}", positions)).expandDims(1);
        return new NDArray[] {c, s};
    }

    /** x: (B, H, T, headDim); cos, sin: (B, 1, T, headDim). */
    public static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        return x.mul(cos).add(rotateHalf(x).mul(sin));
    }

    /** [x1, x2] -> [-x2, x1] on the last axis (HF convention, not the interleaved pairs of the original code). */
    static NDArray rotateHalf(NDArray x) {
        long half = x.getShape().getShape()[x.getShape().dimension() - 1] / 2;
        NDArray x1 = x.get(new NDIndex("..., :{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        return x2.neg().concat(x1, -1);
    }

    @Override
    public void close() {
        cos.close();
        sin.close();
    }
}
