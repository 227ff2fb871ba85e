package dev.rlhf.sampler.domain;

import dev.rlhf.vocabulary.SamplingParams;

import java.util.List;
import java.util.concurrent.CompletionStage;

/** What the sampler needs from the policy service: N samples for a prompt. */
public interface PolicyPort {
    CompletionStage<Generation> generate(String prompt, SamplingParams settings);

    /**
     * One sampled response: its tokens end with EOS when {@code finishReason} is "eos"; "length" marks a response
     * cut at max_new_tokens.
     */
    record GeneratedText(String text, int[] tokens, float[] logprobs, String finishReason) {
        public boolean truncated() {
            return "length".equals(finishReason);
        }
    }

    /** All samples of one call, from one policy version, and the prompt ids they are conditioned on. */
    record Generation(List<GeneratedText> samples, long policyVersion, int[] promptIds) {
        /** A generation whose producer did not report the prompt's ids. */
        public Generation(List<GeneratedText> samples, long policyVersion) {
            this(samples, policyVersion, new int[0]);
        }
    }
}
