package dev.rlhf.llama.generate;

/** Why a sample stopped. */
public enum FinishReason {
    /** The EOS token was sampled; it is the last of the returned tokens (not of the text). */
    EOS,
    /** {@code maxNewTokens} were generated. */
    LENGTH,
    /** A stop string appeared in the decoded text. */
    STOP,
    /** The caller cancelled the request (e.g. its deadline passed); the sample holds what was produced. */
    CANCELLED
}
