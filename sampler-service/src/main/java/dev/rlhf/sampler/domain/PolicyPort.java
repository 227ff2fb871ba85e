package dev.rlhf.sampler.domain;

import java.util.List;
import java.util.concurrent.CompletionStage;

/** What the sampler needs from the policy service: N samples for a prompt. */
public interface PolicyPort {
    CompletionStage<Generation> generate(String prompt, SamplingSettings settings);

    /** One sampled response. */
    record GeneratedText(String text, int[] tokens, float[] logprobs, String finishReason) {}

    /** All samples of one call, from one policy version. */
    record Generation(List<GeneratedText> samples, long policyVersion) {}
}
