package dev.rlhf.sampler.domain;

import java.util.List;
import java.util.concurrent.CompletionStage;

/** What the sampler needs from a reward service: one sigmoid score (and its logit) per response. */
public interface RewardPort {
    CompletionStage<Scores> score(String prompt, List<String> responses);

    /**
     * As {@link #score(String, List)}; {@code truncated[i]} marks a response cut at the length limit, which the
     * reward model scores without a closing {@code </s>}. A port that cannot pass the flags scores every response
     * as complete.
     */
    default CompletionStage<Scores> score(String prompt, List<String> responses, boolean[] truncated) {
        return score(prompt, responses);
    }

    /** Scores in request order; {@code probability[i] = sigmoid(raw[i])}. */
    record Scores(double[] raw, double[] probability, long modelVersion) {}
}
