package dev.rlhf.llama.cpu;

/**
 * Decodes one sequence at a time, one position per call, with its own KV cache: the batch-1 fast path that
 * {@link dev.rlhf.llama.generate.Generator} uses when a request has a single row. Implementations compute what
 * {@link dev.rlhf.llama.model.LlamaModel} computes (its logits within 1e-4, tested).
 */
public interface SequenceDecoder extends AutoCloseable {

    /** A fresh KV cache for up to {@code capacity} positions. */
    Sequence newSequence(int capacity);

    @Override
    void close();

    /** One sequence being decoded. Not thread-safe; different sequences may run on different threads. */
    interface Sequence {
        /**
         * Appends {@code token} at position {@link #length()} and returns the next-token logits (vocab floats). The
         * array is reused by the next call.
         */
        float[] next(int token);

        /** Positions consumed so far. */
        int length();
    }
}
