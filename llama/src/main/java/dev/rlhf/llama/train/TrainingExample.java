package dev.rlhf.llama.train;

/**
 * One training document: for SFT a prompt and its answer (loss only on the answer, LLaMA 2 §3.1); for
 * pre-training an empty prompt and the text as the "response" (loss on every token).
 */
public record TrainingExample(int[] prompt, int[] response) {
    public TrainingExample {
        prompt = prompt == null ? new int[0] : prompt;
        if (response == null) {
            throw new IllegalArgumentException("response tokens are required");
        }
    }

    public static TrainingExample text(int[] tokens) {
        return new TrainingExample(new int[0], tokens);
    }

    public boolean hasPrompt() {
        return prompt.length > 0;
    }
}
