package dev.rlhf.llama.generate;

/**
 * One generated response: its token ids, decoded text, the log-probability of each sampled token under the
 * policy at temperature 1 (what PPO's ratios need), and why it stopped.
 */
public record Sample(int[] tokens, String text, float[] logprobs, FinishReason finishReason) {
}
