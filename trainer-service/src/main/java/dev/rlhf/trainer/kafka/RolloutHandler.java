package dev.rlhf.trainer.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.proto.v1.Candidate;
import dev.rlhf.proto.v1.FinishReason;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.proto.v1.Rollout;
import dev.rlhf.trainer.domain.OnlinePpo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** rlhf.rollouts into online PPO; new policy versions go to rlhf.policy-updates. */
public final class RolloutHandler implements LedgeredTopicLoop.Handler {
    private final OnlinePpo ppo;

    public RolloutHandler(OnlinePpo ppo) {
        this.ppo = ppo;
    }

    @Override
    public List<String> adoptCluster(String clusterId) {
        String previous = ppo.adoptCluster(clusterId);
        return previous == null ? List.of() : List.of(previous);
    }

    @Override
    public void skip(int partition, long offset) {
        ppo.skip(partition, offset);
    }

    @Override
    public long resumeOffset(int partition) {
        return ppo.ledger().nextOffset(partition);
    }

    @Override
    public List<ModelUpdate> newest() {
        Path dir = ppo.newestCheckpoint();
        return ppo.version() == 0 || dir == null ? List.of()
                : List.of(ModelUpdates.existing(ModelUpdates.POLICY, ppo.version(), dir, ppo.iterations()));
    }

    @Override
    public List<ModelUpdate> accept(int partition, long offset, byte[] value) throws InvalidProtocolBufferException {
        Rollout r = Rollout.parseFrom(value);
        if (r.getPrompt().getText().isEmpty()) {
            throw new IllegalArgumentException("rollout " + r.getPrompt().getId() + " has no prompt text");
        }
        List<OnlinePpo.Candidate> candidates = new ArrayList<>(r.getCandidatesCount());
        for (Candidate c : r.getCandidatesList()) {
            int[] tokens = c.getTokensList().stream().mapToInt(Integer::intValue).toArray();
            float[] logprobs = new float[c.getLogprobsCount()];
            for (int i = 0; i < logprobs.length; i++) {
                logprobs[i] = c.getLogprobs(i);
            }
            double combined = c.hasScores() ? c.getScores().getCombined() : Double.NaN;
            double raw = c.hasScores() && c.getScores().hasCombinedRaw() ? c.getScores().getCombinedRaw() : Double.NaN;
            candidates.add(new OnlinePpo.Candidate(tokens, combined, logprobs, raw,
                    c.getFinishReason() == FinishReason.FINISH_REASON_LENGTH));
        }
        // A record without sampling parameters (another producer) is taken as temperature 1, unfiltered.
        OnlinePpo.Sampling sampling = r.hasSampling()
                ? new OnlinePpo.Sampling(r.getSampling().getTemperature(), r.getSampling().getTopP() == 0 ? 1
                        : r.getSampling().getTopP(), r.getSampling().getTopK())
                : OnlinePpo.Sampling.UNFILTERED_T1;
        int[] promptIds = r.getPromptTokensList().stream().mapToInt(Integer::intValue).toArray();
        return ppo.accept(partition, offset, new OnlinePpo.Rollout(r.getPrompt().getId(), r.getPrompt().getText(),
                        promptIds, r.getPolicyVersion(), sampling, candidates))
                .map(c -> {
                    Map<String, Double> metrics = new LinkedHashMap<>();
                    OnlinePpo.Stats s = ppo.lastStats();
                    metrics.put("policy_loss", s.policyLoss());
                    metrics.put("value_loss", s.valueLoss());
                    metrics.put("mean_combined_reward", s.meanCombined());
                    metrics.put("mean_kl", s.meanKl());
                    metrics.put("clip_fraction", s.clipFraction());
                    metrics.put("dropped_stale", (double) ppo.droppedStale());
                    metrics.put("without_sampling_logprobs", (double) ppo.withoutSamplingLogprobs());
                    metrics.put("refused_sampling", (double) ppo.refusedSampling());
                    metrics.put("approx_kl", s.approxKl());
                    metrics.put("truncated_rate", s.truncatedRate());
                    return List.of(ModelUpdates.of(ModelUpdates.POLICY, c.version(), c.dir(), c.manifestSha256(),
                            c.step(), metrics));
                })
                .orElse(List.of());
    }
}
