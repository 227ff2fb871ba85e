package dev.rlhf.launcher.pipeline;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.launcher.ProgressBar;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.DataCursor;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.ScalarLog;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.llama.train.TrainingExample;
import dev.rlhf.llama.train.TrainingLoop;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Pre-training and SFT stages of the pipeline: pack, train with warm-up + cosine to 10%, save the final model. */
public final class LanguageModelTraining {
    private LanguageModelTraining() {}

    /**
     * Steps of {@code batchSize} packed rows of {@code sequenceLength} tokens at peak lr with a warm-up;
     * {@code logDir} receives the per-step scalars ({@link ScalarLog}; null = none).
     */
    public record Options(int steps, int batchSize, int sequenceLength, double learningRate, int warmupSteps,
                          long seed, Path logDir, LoraConfig lora) {
        /** Every weight trains. */
        public Options(int steps, int batchSize, int sequenceLength, double learningRate, int warmupSteps, long seed,
                       Path logDir) {
            this(steps, batchSize, sequenceLength, learningRate, warmupSteps, seed, logDir, null);
        }
    }

    /** What training did. */
    public record Result(Path model, double finalLoss, int rows) {}

    /** Trains the model in {@code from} on {@code examples} and writes it (with from's tokenizer) to {@code out}. */
    public static Result train(String stage, Path from, Path out, List<TrainingExample> examples, Options o,
                               NDManager parent) {
        try (NDManager manager = parent.newSubManager();
             LlamaTokenizer tokenizer = LlamaTokenizer.load(from)) {
            // With LoRA, `out` is an adapter naming `from` as its base.
            LlamaWeights weights = LlamaCheckpoint.loadToTrain(from, manager, ScoreHead.ABSENT, o.lora(), o.seed());
            LlamaModel model = new LlamaModel(weights);
            List<PackedSequence> rows = Packing.pack(examples, o.sequenceLength(), tokenizer.bosId(),
                    tokenizer.sepId(), tokenizer.eosId(), tokenizer.padId());
            LearningRateSchedule schedule = LearningRateSchedule.cosine(o.learningRate(), o.warmupSteps(), o.steps());
            double[] last = {Double.NaN};
            long tokensPerStep = (long) o.batchSize() * o.sequenceLength();
            try (Trainer trainer = new Trainer(model, schedule);
                 ScalarLog log = ScalarLog.open(o.logDir());
                 ProgressBar bar = new ProgressBar(stage, o.steps(), "steps")) {
                TrainingLoop.run(trainer, rows, DataCursor.start(o.seed()),
                        new TrainingLoop.Options(o.batchSize(), o.batchSize(), o.steps()), (r, cursor) -> {
                            last[0] = r.loss();
                            log.trainingStep(r, tokensPerStep, java.util.Map.of());
                            bar.step(1, String.format(Locale.ROOT, "loss %.3f", r.loss()));
                        });
            }
            JsonObject meta = new JsonObject();
            meta.addProperty("stage", stage);
            meta.addProperty("final_loss", last[0]);
            meta.addProperty("steps", o.steps());
            LlamaCheckpoint.save(weights, out, SaveOptions.defaults(o.steps()).withMetadata(meta)
                    .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(from, dir)));
            return new Result(out, last[0], rows.size());
        }
    }
}
