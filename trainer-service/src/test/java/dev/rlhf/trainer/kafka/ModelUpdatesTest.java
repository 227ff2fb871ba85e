package dev.rlhf.trainer.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.AdapterCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.proto.v1.ModelUpdate;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelUpdatesTest {
    @TempDir
    Path tmp;

    @Test
    void anAdapterVersionNamesItsBaseAndTheBasesFingerprintAFullOneNeither() {
        Path base = ModelFactory.tinyForTests(tmp.resolve("base"), 1, false);
        Path adapter;
        try (NDManager m = NDManager.newBaseManager();
             LlamaWeights w = LlamaCheckpoint.load(base, m, LlamaCheckpoint.ScoreHead.ABSENT)) {
            w.attachNewAdapter(AdapterCheckpoint.newAdapter(base, LoraConfig.parse("r=2")), 0);
            adapter = LlamaCheckpoint.save(w, tmp.resolve("v1"), LlamaCheckpoint.SaveOptions.defaults(1));
        }
        ModelUpdate u = ModelUpdates.existing("policy", 1, adapter, 1);
        assertEquals(base.toAbsolutePath().normalize().toString(), u.getBaseUri());
        assertEquals(AdapterCheckpoint.baseFingerprint(base), u.getBaseSha256());
        ModelUpdate full = ModelUpdates.existing("policy", 0, base, 0);
        assertTrue(full.getBaseUri().isEmpty() && full.getBaseSha256().isEmpty());
    }
}
