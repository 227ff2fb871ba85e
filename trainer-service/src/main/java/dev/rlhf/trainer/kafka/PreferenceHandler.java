package dev.rlhf.trainer.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.proto.v1.PreferencePair;
import dev.rlhf.trainer.domain.OnlineRewardTraining;
import dev.rlhf.vocabulary.RewardKind;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** rlhf.preferences into the online reward models; their new versions go to rlhf.reward-updates. */
public final class PreferenceHandler implements LedgeredTopicLoop.Handler {
    private final List<OnlineRewardTraining> models;

    public PreferenceHandler(List<OnlineRewardTraining> models) {
        if (models.isEmpty()) {
            throw new IllegalArgumentException("no reward model to train");
        }
        this.models = List.copyOf(models);
    }

    @Override
    public List<String> adoptCluster(String clusterId) {
        List<String> previous = new ArrayList<>();
        for (OnlineRewardTraining m : models) {
            String p = m.adoptCluster(clusterId);
            if (p != null) {
                previous.add(p);
            }
        }
        return previous;
    }

    @Override
    public void skip(int partition, long offset) {
        models.forEach(m -> m.skip(partition, offset));
    }

    @Override
    public long resumeOffset(int partition) {
        // Each model ignores what its own ledger already includes.
        return models.stream().mapToLong(m -> m.ledger().nextOffset(partition)).min().orElse(0);
    }

    @Override
    public List<ModelUpdate> newest() {
        List<ModelUpdate> out = new ArrayList<>();
        for (OnlineRewardTraining m : models) {
            Path dir = m.newestCheckpoint();
            if (m.version() > 0 && dir != null) {
                out.add(ModelUpdates.existing(m.kind().key(), m.version(), dir, m.steps()));
            }
        }
        return out;
    }

    @Override
    public List<ModelUpdate> accept(int partition, long offset, byte[] value) throws InvalidProtocolBufferException {
        OnlineRewardTraining.Pair pair = decode(PreferencePair.parseFrom(value), partition, offset);
        List<ModelUpdate> out = new ArrayList<>();
        for (OnlineRewardTraining m : models) {
            m.accept(partition, offset, pair).ifPresent(c -> {
                Map<String, Double> metrics = new LinkedHashMap<>();
                metrics.put("loss", c.loss());
                metrics.put("accuracy_before_step", c.accuracyBeforeStep());
                metrics.put("pairs_trained", (double) c.pairsTrained());
                out.add(ModelUpdates.of(c.kind().key(), c.version(), c.dir(), c.manifestSha256(), c.step(), metrics));
            });
        }
        return out;
    }

    /** Validates a pair; a missing id gets one from its position (the data-mix hash needs a stable key). */
    static OnlineRewardTraining.Pair decode(PreferencePair p, int partition, long offset) {
        if (p.getPrompt().isEmpty() || p.getChosen().isEmpty() || p.getRejected().isEmpty()) {
            throw new IllegalArgumentException("preference pair " + p.getId() + " lacks prompt, chosen or rejected");
        }
        RewardKind kind = switch (p.getKind()) {
            case PREFERENCE_KIND_HELPFULNESS -> RewardKind.HELPFULNESS;
            case PREFERENCE_KIND_SAFETY -> RewardKind.SAFETY;
            default -> throw new IllegalArgumentException("preference pair " + p.getId()
                    + " has no kind (helpfulness or safety)");
        };
        RankingLoss.Rating rating = switch (p.getConfidence()) {
            case SIGNIFICANTLY_BETTER -> RankingLoss.Rating.SIGNIFICANTLY_BETTER;
            case BETTER -> RankingLoss.Rating.BETTER;
            case SLIGHTLY_BETTER -> RankingLoss.Rating.SLIGHTLY_BETTER;
            case NEGLIGIBLY_BETTER_OR_UNSURE -> RankingLoss.Rating.NEGLIGIBLY_BETTER_OR_UNSURE;
            default -> throw new IllegalArgumentException("preference pair " + p.getId() + " has no confidence rating");
        };
        String id = p.getId().isEmpty() ? partition + "/" + offset : p.getId();
        return new OnlineRewardTraining.Pair(id, kind, p.getPrompt(), p.getChosen(), p.getRejected(), rating,
                p.getChosenSafe(), p.getRejectedSafe());
    }
}
