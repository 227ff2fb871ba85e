package dev.rlhf.trainer.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.trainer.domain.RejectionSamplingSft;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** rlhf.best into rejection-sampling fine-tuning; new policy versions go to rlhf.policy-updates. */
public final class BestSampleHandler implements LedgeredTopicLoop.Handler {
    private final RejectionSamplingSft trainer;

    public BestSampleHandler(RejectionSamplingSft trainer) {
        this.trainer = trainer;
    }

    @Override
    public List<String> adoptCluster(String clusterId) {
        String previous = trainer.adoptCluster(clusterId);
        return previous == null ? List.of() : List.of(previous);
    }

    @Override
    public void skip(int partition, long offset) {
        trainer.skip(partition, offset);
    }

    @Override
    public long resumeOffset(int partition) {
        return trainer.ledger().nextOffset(partition);
    }

    @Override
    public List<ModelUpdate> newest() {
        Path dir = trainer.newestCheckpoint();
        return trainer.version() == 0 || dir == null ? List.of()
                : List.of(ModelUpdates.existing(ModelUpdates.POLICY, trainer.version(), dir, trainer.steps()));
    }

    @Override
    public List<ModelUpdate> accept(int partition, long offset, byte[] value) throws InvalidProtocolBufferException {
        BestSample best = BestSample.parseFrom(value);
        return trainer.accept(partition, offset, new RejectionSamplingSft.BestSample(best.getPrompt().getId(),
                        best.getPrompt().getText(), ints(best.getPromptTokensList()), best.getResponse(),
                        ints(best.getResponseTokensList()),
                        best.getFinishReason() == dev.rlhf.proto.v1.FinishReason.FINISH_REASON_LENGTH,
                        best.hasScores() ? best.getScores().getCombined() : Double.NaN))
                .map(c -> List.of(ModelUpdates.of(ModelUpdates.POLICY, c.version(), c.dir(), c.manifestSha256(),
                        c.step(), Map.of("loss", c.loss()))))
                .orElse(List.of());
    }

    private static int[] ints(List<Integer> ids) {
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }
}
