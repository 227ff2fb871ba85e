package dev.rlhf.sampler.domain;

import java.util.List;
import java.util.concurrent.CompletionStage;

/** What the sampler needs from a reward service: one sigmoid score (and its logit) per response. */
public interface RewardPort {
    CompletionStage<Scores> score(String prompt, List<String> responses);

    /** Scores in request order; {@code probability[i] = sigmoid(raw[i])}. */
    record Scores(double[] raw, double[] probability, long modelVersion) {}
}
