package dev.rlhf.sampler.domain;

import dev.rlhf.vocabulary.SamplingParams;

import dev.rlhf.vocabulary.BestOfN;
import dev.rlhf.vocabulary.RewardCombiner;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One rejection-sampling round for one prompt (LLaMA 2 §3.2.3): N samples from the policy, both reward
 * models in parallel, the combined reward per candidate, and the best of N.
 */
public final class BestOfNRound {
    private final PolicyPort policy;
    private final RewardPort helpfulness;
    private final RewardPort safety;
    private final RewardCombiner combiner;

    public BestOfNRound(PolicyPort policy, RewardPort helpfulness, RewardPort safety, RewardCombiner combiner) {
        this.policy = policy;
        this.helpfulness = helpfulness;
        this.safety = safety;
        this.combiner = combiner;
    }

    /**
     * A scored candidate; {@code combinedRaw} is the raw (logit) score of the reward model that {@code combined}
     * chose, what RL trains on.
     */
    public record Candidate(PolicyPort.GeneratedText sample, double helpfulness, double safety,
                            double helpfulnessRaw, double safetyRaw, double combined, double combinedRaw) {}

    /** Everything a round produced. */
    public record Result(List<Candidate> candidates, int bestIndex, long policyVersion, long helpfulnessVersion,
                         long safetyVersion, int[] promptIds) {
        public Candidate best() {
            return candidates.get(bestIndex);
        }
    }

    public CompletionStage<Result> run(String prompt, boolean safetyTagged, SamplingParams settings) {
        return policy.generate(prompt, settings).thenCompose(gen -> {
            if (gen.samples().isEmpty()) {
                throw new IllegalStateException("policy returned no samples");
            }
            List<String> texts = gen.samples().stream().map(PolicyPort.GeneratedText::text).toList();
            boolean[] truncated = new boolean[texts.size()];
            for (int i = 0; i < truncated.length; i++) {
                truncated[i] = gen.samples().get(i).truncated();
            }
            CompletableFuture<RewardPort.Scores> h = helpfulness.score(prompt, texts, truncated)
                    .toCompletableFuture();
            CompletableFuture<RewardPort.Scores> s = safety.score(prompt, texts, truncated).toCompletableFuture();
            return h.thenCombine(s, (hs, ss) -> combine(gen, safetyTagged, hs, ss));
        });
    }

    private Result combine(PolicyPort.Generation gen, boolean safetyTagged, RewardPort.Scores h, RewardPort.Scores s) {
        int n = gen.samples().size();
        if (h.probability().length != n || s.probability().length != n) {
            throw new IllegalStateException("reward services returned " + h.probability().length + " and "
                    + s.probability().length + " scores for " + n + " samples");
        }
        List<Candidate> candidates = new ArrayList<>(n);
        List<Double> combined = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            boolean useSafety = combiner.usesSafety(safetyTagged, s.probability()[i]);
            double c = combiner.combined(safetyTagged, h.probability()[i], s.probability()[i]);
            candidates.add(new Candidate(gen.samples().get(i), h.probability()[i], s.probability()[i], h.raw()[i],
                    s.raw()[i], c, useSafety ? s.raw()[i] : h.raw()[i]));
            combined.add(c);
        }
        return new Result(candidates, BestOfN.select(combined), gen.policyVersion(), h.modelVersion(),
                s.modelVersion(), gen.promptIds());
    }
}
