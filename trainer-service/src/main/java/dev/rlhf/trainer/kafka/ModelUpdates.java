package dev.rlhf.trainer.kafka;

import dev.rlhf.llama.checkpoint.AdapterCheckpoint;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.proto.v1.ModelUpdate;
import java.nio.file.Path;
import java.util.Map;

/** ModelUpdate records for checkpoints on disk. */
final class ModelUpdates {
    /** Model name of the policy on rlhf.policy-updates. */
    static final String POLICY = "policy";

    private ModelUpdates() {}

    /** NaN metrics (nothing measured yet) are left out. */
    static ModelUpdate of(String model, long version, Path dir, String manifestSha256, long step,
                          Map<String, Double> metrics) {
        ModelUpdate.Builder b = ModelUpdate.newBuilder().setModel(model).setVersion(version)
                .setUri(dir.toAbsolutePath().toString()).setSha256(manifestSha256).setStep(step);
        if (AdapterCheckpoint.isAdapter(dir)) {
            // The manifest's own sha256 is in the update; readers verify the files against it before loading.
            AdapterCheckpoint.Parsed adapter = AdapterCheckpoint.read(dir, false);
            b.setBaseUri(adapter.baseModel());
            if (adapter.baseSha256() != null) {
                b.setBaseSha256(adapter.baseSha256());
            }
        }
        metrics.forEach((k, v) -> {
            if (v != null && Double.isFinite(v)) {
                b.putMetrics(k, v);
            }
        });
        return b.build();
    }

    /** The update for an existing checkpoint directory (republished at start-up). */
    static ModelUpdate existing(String model, long version, Path dir, long step) {
        return of(model, version, dir, Manifest.sha256(dir.resolve(Manifest.FILE_NAME)), step, Map.of());
    }
}
