package dev.rlhf.llama.generate;

import dev.rlhf.vocabulary.SamplingParams;
import java.util.function.BooleanSupplier;

/**
 * One prompt to sample {@code params.n()} responses for, inside a batch that may mix requests with different
 * parameters, or joining a running {@link DecodeLoop}. {@code streamId} picks the random streams: sample s uses a
 * stream derived from (seed, streamId, s), so a request gives the same output alone or batched with others.
 */
public record GenerationRequest(int[] prompt, SamplingParams params, long streamId, TokenListener listener,
                                BooleanSupplier cancelled) {
    public GenerationRequest {
        if (listener == null) {
            listener = TokenListener.NONE;
        }
        if (cancelled == null) {
            cancelled = () -> false;
        }
    }

    public static GenerationRequest of(int[] prompt, SamplingParams params) {
        return new GenerationRequest(prompt, params, 0, null, null);
    }

    /** Receives tokens as they are sampled (for streaming); called on the generating thread. */
    @FunctionalInterface
    public interface TokenListener {
        TokenListener NONE = (sample, token, logprob) -> { };

        void onToken(int sample, int token, float logprob);
    }
}
