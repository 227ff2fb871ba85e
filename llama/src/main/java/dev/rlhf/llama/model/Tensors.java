package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Creates tensors from Java values in memory that libtorch owns. DJL's {@code create} wraps a Java direct
 * buffer with {@code torch::from_blob}; only the Java wrapper keeps that buffer alive, but libtorch can keep
 * the tensor longer (views, autograd's saved tensors), and once the garbage collector frees the buffer those
 * tensors read freed memory (seen as NaN gradients at GC-dependent steps). A copy removes the hazard.
 *
 * <p>The same trap hides in DJL's arithmetic with a {@code Number} ({@code x.div(2.0)}, {@code x.mul(s)}): it
 * wraps the number that way and closes the wrapper at once, while autograd saves the scalar for backward.
 * On a path that is differentiated, multiply by {@link #scalar} instead.
 */
public final class Tensors {
    private Tensors() {}

    public static NDArray of(NDManager m, float[] data, Shape shape) {
        return owned(m.create(data, shape));
    }

    public static NDArray of(NDManager m, double[] data, Shape shape) {
        return owned(m.create(data, shape));
    }

    public static NDArray of(NDManager m, long[] data, Shape shape) {
        return owned(m.create(data, shape));
    }

    public static NDArray of(NDManager m, int[] data, Shape shape) {
        return owned(m.create(data, shape));
    }

    /** A 0-d tensor holding {@code value} in libtorch-owned memory. */
    public static NDArray scalar(NDManager m, double value, ai.djl.ndarray.types.DataType dtype) {
        return owned(m.create(value)).toType(dtype, false);
    }

    private static NDArray owned(NDArray blob) {
        NDArray copy = blob.duplicate();
        blob.close();
        return copy;
    }
}
