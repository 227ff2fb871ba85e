package dev.rlhf.llama.cpu;

import ai.djl.ndarray.types.DataType;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the batch-1 CPU decoder ({@link VectorDecoder}) when it can run, and says why when it cannot. This class
 * does not touch the Vector API itself, so a JVM started without {@code --add-modules jdk.incubator.vector}
 * loads it, falls back to the DJL engine and logs one line.
 *
 * <p>Why a second forward pass at all: at batch 1 a DJL decode step issues ~400 native calls of 2-15 us each, and
 * the MKL in DJL's libtorch runs its generic GEMV on AMD CPUs, so decoding reached 0.15-0.2x llama2.c
 * (docs/benchmarks.md). A plain Vector API loop streams the weights at memory speed. DJL stays the engine for
 * batches, training and GPUs.
 */
public final class CpuDecoding {
    private static final Logger LOG = LoggerFactory.getLogger(CpuDecoding.class);
    private static final String MODULE = "jdk.incubator.vector";

    private CpuDecoding() {}

    /** Why {@code model} cannot use the CPU decoder, or empty when it can. */
    public static Optional<String> unavailableReason(LlamaModel model) {
        if (ModuleLayer.boot().findModule(MODULE).isEmpty()) {
            return Optional.of("the JVM was started without --add-modules " + MODULE);
        }
        LlamaWeights w = model.weights();
        if (!ai.djl.Device.Type.CPU.equals(w.get(LlamaWeights.EMBED).getDevice().getDeviceType())) {
            return Optional.of("the model is on " + w.get(LlamaWeights.EMBED).getDevice());
        }
        long bytes = 4L * model.config().parameterCount();
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        // The float copy must leave the heap room for everything else (and for a swap that loads the next version).
        if (bytes > free / 2) {
            return Optional.of(String.format(Locale.ROOT,
                    "its float weights (%d MiB) need more than half the free Java heap (%d MiB); raise -Xmx",
                    bytes >> 20, free >> 20));
        }
        return Optional.empty();
    }

    /**
     * The CPU decoder for {@code model}'s current weights (an adapter folded in), or empty with one logged line
     * saying why not. The decoder copies the weights: use it only for a model whose weights no longer change (a
     * served version, a loaded checkpoint), never for one being trained.
     *
     * @param threads worker threads, the caller included (<= 0: the available processors)
     */
    public static Optional<SequenceDecoder> open(LlamaModel model, int threads) {
        Optional<String> reason = unavailableReason(model);
        if (reason.isPresent()) {
            LOG.info("batch-1 CPU decoder off: {}; decoding with the DJL engine", reason.get());
            return Optional.empty();
        }
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        return Optional.of(VectorDecoder.create(model, n));
    }

    /** Float32 copy of a tensor's values (weights may be stored in bf16/f16). */
    static float[] floats(ai.djl.ndarray.NDArray a) {
        if (a.getDataType() == DataType.FLOAT32) {
            return a.toFloatArray();
        }
        try (ai.djl.ndarray.NDArray f = a.toType(DataType.FLOAT32, true)) {
            return f.toFloatArray();
        }
    }
}
