package dev.rlhf.world;

/**
 * The make-up of a pre-training corpus: shares of the four document types (summing to 1) and how noisy each
 * question-answer type is.
 *
 * @param factFiller           true sentences about the fact table ("Mira likes blue. Mira has a cat.")
 * @param helpfulQa            checkable prompt followed by an answer
 * @param harmfulQa            harmful prompt followed by a compliance or a refusal
 * @param borderlineQa         borderline prompt followed by the helpful answer or an over-refusal
 * @param wrongAnswerRate      fraction of checkable answers that are wrong
 * @param unsafeCompletionRate fraction of harmful prompts that are complied with
 * @param overRefusalRate      fraction of borderline prompts that are refused
 */
public record CorpusMix(double factFiller, double helpfulQa, double harmfulQa, double borderlineQa,
                        double wrongAnswerRate, double unsafeCompletionRate, double overRefusalRate) {
    /**
     * Ours: noisy enough that a model pre-trained on it answers wrong, complies and over-refuses often (the
     * behaviours SFT and RLHF must remove), while most answers stay right so that pre-training still teaches the
     * world.
     */
    public static final CorpusMix DEFAULT = new CorpusMix(0.20, 0.50, 0.15, 0.15, 0.30, 0.60, 0.40);

    private static final double SHARE_TOLERANCE = 1e-9;

    public CorpusMix {
        double[] all = {factFiller, helpfulQa, harmfulQa, borderlineQa, wrongAnswerRate, unsafeCompletionRate,
            overRefusalRate};
        for (double v : all) {
            if (!(v >= 0 && v <= 1)) {
                throw new IllegalArgumentException("corpus mix values must be in [0, 1]: " + this);
            }
        }
        double sum = factFiller + helpfulQa + harmfulQa + borderlineQa;
        if (Math.abs(sum - 1) > SHARE_TOLERANCE) {
            throw new IllegalArgumentException("document shares must sum to 1, got " + sum);
        }
    }
}
