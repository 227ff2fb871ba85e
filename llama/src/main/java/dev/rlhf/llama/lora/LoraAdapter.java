package dev.rlhf.llama.lora;

/**
 * An adapter attached to a base model: its shape and which base it was made for.
 *
 * @param config rank, alpha, dropout and targets
 * @param baseModel PEFT's {@code base_model_name_or_path}: for our adapters the base checkpoint's directory
 * @param baseSha256 the base's fingerprint ({@link BaseFingerprint}); null for an adapter written elsewhere, which
 *     records none (its tensors' shapes are still checked against the base)
 */
public record LoraAdapter(LoraConfig config, String baseModel, String baseSha256) {
    public LoraAdapter {
        java.util.Objects.requireNonNull(config, "config");
        java.util.Objects.requireNonNull(baseModel, "baseModel");
    }
}
