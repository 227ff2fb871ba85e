package dev.rlhf.llama.generate;

/** A prompt plus the requested new tokens does not fit the model's context (gRPC maps it to OUT_OF_RANGE). */
public final class ContextOverflowException extends IllegalArgumentException {
    public ContextOverflowException(int promptTokens, int maxNewTokens, int context) {
        super("prompt tokens (" + promptTokens + ") + max_new_tokens (" + maxNewTokens + ") = "
                + ((long) promptTokens + maxNewTokens) + " exceeds the context length " + context);
    }
}
