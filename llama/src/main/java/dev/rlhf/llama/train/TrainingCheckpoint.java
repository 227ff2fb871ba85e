package dev.rlhf.llama.train;

import dev.rlhf.llama.model.Tensors;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.io.CheckpointException;
import dev.rlhf.llama.io.DType;
import dev.rlhf.llama.io.SafeTensors;
import dev.rlhf.llama.io.SafeTensorsFile;
import dev.rlhf.llama.io.TensorData;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A resumable training checkpoint: the model checkpoint plus {@code optimizer.safetensors} (AdamW moments,
 * float32 so nothing is rounded) and {@code trainer_state.json} (step and data cursor). Resuming from it
 * continues exactly like the uninterrupted run on CPU.
 */
public final class TrainingCheckpoint {
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String STATE_FILE = "trainer_state.json";

    private TrainingCheckpoint() {}

    public static Path save(Trainer trainer, DataCursor cursor, Path target, SaveOptions options) {
        Map<String, NDArray> optimizerState = trainer.optimizer().state();
        JsonObject state = new JsonObject();
        state.addProperty("step", trainer.stepCount());
        state.addProperty("data_seed", cursor.seed());
        state.addProperty("data_epoch", cursor.epoch());
        state.addProperty("data_index", cursor.index());
        return LlamaCheckpoint.save(trainer.model().weights(), target, options.withExtraFiles(dir -> {
            options.extraFiles().accept(dir);
            SafeTensors.write(dir.resolve(OPTIMIZER_FILE), LlamaCheckpoint.toTensorData(optimizerState, DType.F32));
            Files.writeString(dir.resolve(STATE_FILE), state + "\n", StandardCharsets.UTF_8);
        }));
    }

    /** What a resume needs: the model (weights loaded), the step, the data cursor and the optimizer state. */
    public record Resumed(LlamaModel model, long step, DataCursor cursor, Map<String, NDArray> optimizerState) {
        /** A trainer continuing from this checkpoint with the given schedule. */
        public Trainer trainer(LearningRateSchedule schedule) {
            Trainer t = new Trainer(model, schedule);
            t.restore(step, optimizerState);
            return t;
        }
    }

    public static Resumed load(Path dir, NDManager manager, ScoreHead scoreHead) {
        LlamaWeights weights = LlamaCheckpoint.load(dir, manager, scoreHead);
        JsonObject state;
        try {
            state = JsonParser.parseString(Files.readString(dir.resolve(STATE_FILE))).getAsJsonObject();
        } catch (IOException | RuntimeException e) {
            weights.close();
            throw new CheckpointException("checkpoint " + dir + ": cannot read " + STATE_FILE + ": " + e.getMessage(),
                    e);
        }
        SafeTensorsFile opt = SafeTensors.read(dir.resolve(OPTIMIZER_FILE));
        Map<String, NDArray> moments = new LinkedHashMap<>();
        for (TensorData t : opt.tensors().values()) {
            moments.put(t.name(), Tensors.of(weights.manager(), t.toFloatArray(), new ai.djl.ndarray.types.Shape(t.shape())));
        }
        DataCursor cursor = new DataCursor(state.get("data_seed").getAsLong(), state.get("data_epoch").getAsInt(),
                state.get("data_index").getAsInt());
        return new Resumed(new LlamaModel(weights), state.get("step").getAsLong(), cursor, moments);
    }
}
