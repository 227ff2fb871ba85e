package dev.rlhf.llama.generate;

/**
 * One generated response: its token ids (ending with EOS when the finish reason is EOS; the text leaves it out),
 * decoded text, the log-probability of each sampled token under the policy at the sampling temperature, log
 * softmax(logits / T) before top-k/top-p filtering (temperature 1 when greedy; what PPO's ratios need), and why it
 * stopped.
 */
public record Sample(int[] tokens, String text, float[] logprobs, FinishReason finishReason) {
}
