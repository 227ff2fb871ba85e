package dev.rlhf.llama.train;

/**
 * One training document: for SFT a prompt and its answer (loss only on the answer, LLaMA 2 §3.1); for
 * pre-training an empty prompt and the text as the "response" (loss on every token). {@code closed}: the answer
 * is complete and packing appends {@code </s>} as its last trained token; false for a response cut at a length
 * limit, which must not teach the model to stop there.
 */
public record TrainingExample(int[] prompt, int[] response, boolean closed) {
    public TrainingExample {
        prompt = prompt == null ? new int[0] : prompt;
        if (response == null) {
            throw new IllegalArgumentException("response tokens are required");
        }
    }

    /** A complete example: packing closes it with {@code </s>}. */
    public TrainingExample(int[] prompt, int[] response) {
        this(prompt, response, true);
    }

    public static TrainingExample text(int[] tokens) {
        return new TrainingExample(new int[0], tokens);
    }

    public boolean hasPrompt() {
        return prompt.length > 0;
    }
}
