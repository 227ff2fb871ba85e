package dev.rlhf.launcher;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.data.JsonlExamples;
import dev.rlhf.llama.data.JsonlExamples.TextExample;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.DataCursor;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.llama.train.TrainingCheckpoint;
import dev.rlhf.llama.train.TrainingExample;
import dev.rlhf.llama.train.ScalarLog;
import dev.rlhf.llama.train.TrainingLoop;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Option;

/**
 * Shared flow of {@code rlhf pretrain} and {@code rlhf sft}: tokenize JSONL, pack, train with AdamW and
 * warm-up + cosine decay, write resumable checkpoints every {@code --save-every} steps, then the final model.
 */
abstract class TrainCommandBase implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory to start from (with tokenizer.json).")
    Path modelDir;

    @Option(names = "--data", required = true, description = "JSONL training data.")
    Path data;

    @Option(names = "--out", required = true, description = "Directory for the trained model (must not exist).")
    Path out;

    @Option(names = "--epochs", description = "Passes over the data (ignored when --steps is given).")
    Double epochs;

    @Option(names = "--steps", description = "Optimizer steps (overrides --epochs).")
    Long steps;

    @Option(names = "--batch-size", defaultValue = "64", description = "Sequences per optimizer step "
            + "(default: ${DEFAULT-VALUE}, LLaMA 2 SFT).")
    int batchSize;

    @Option(names = "--micro-batch-size", description = "Sequences per forward/backward; gradients accumulate "
            + "over batch-size / micro-batch-size passes (default: the batch size).")
    Integer microBatchSize;

    @Option(names = "--seq-len", description = "Packed sequence length (default: the model's context, at most 4096).")
    Integer seqLen;

    @Option(names = "--lr", description = "Peak learning rate.")
    Double lr;

    @Option(names = "--warmup", description = "Warm-up steps (default: min(2000, 10%% of the steps)).")
    Integer warmup;

    @Option(names = "--seed", defaultValue = "0", description = "Data order seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--save-every", defaultValue = "100",
            description = "Write a resumable checkpoint every N steps (default: ${DEFAULT-VALUE}; 0 = only at the end).")
    int saveEvery;

    @Option(names = "--resume", description = "Continue from the newest complete checkpoint in <out>.checkpoints.")
    boolean resume;

    @picocli.CommandLine.Mixin
    AdapterOptions adapterOptions = new AdapterOptions();

    @picocli.CommandLine.Mixin
    AdapterOptions.Lora lora = new AdapterOptions.Lora();

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;

    /** Stage name for metadata and progress ("pretrain", "sft"). */
    abstract String stage();

    abstract double defaultLearningRate();

    abstract double defaultEpochs();

    /** Converts one JSONL record to token ids, or explains why it does not fit this stage. */
    abstract TrainingExample toExample(TextExample e, LlamaTokenizer tokenizer);

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out)) {
            throw new IllegalArgumentException("output directory already exists: " + out);
        }
        Path checkpoints = Path.of(out + ".checkpoints");
        List<TextExample> records = JsonlExamples.read(data);
        try (NDManager manager = NDManager.newBaseManager(Devices.resolve(device));
             LlamaTokenizer tokenizer = LlamaTokenizer.load(tokenizerDir())) {
            List<TrainingExample> examples = new ArrayList<>(records.size());
            try (ProgressBar bar = new ProgressBar("tokenize", records.size(), "docs")) {
                for (TextExample r : records) {
                    examples.add(toExample(r, tokenizer));
                    bar.step(1, "");
                }
            }
            LlamaModel model;
            long startStep = 0;
            DataCursor cursor = DataCursor.start(seed);
            java.util.Map<String, ai.djl.ndarray.NDArray> optimizerState = null;
            List<Path> complete = resume && Files.isDirectory(checkpoints)
                    ? AtomicDirectory.listCompleteCheckpoints(checkpoints) : List.of();
            if (!complete.isEmpty()) {
                Path newest = complete.get(complete.size() - 1);
                TrainingCheckpoint.Resumed r = TrainingCheckpoint.load(newest, manager, ScoreHead.ABSENT);
                model = r.model();
                startStep = r.step();
                cursor = r.cursor();
                optimizerState = r.optimizerState();
                System.err.println(stage() + ": resuming from " + newest + " at step " + startStep);
            } else {
                if (resume) {
                    System.err.println(stage() + ": no complete checkpoint in " + checkpoints + ", starting fresh");
                }
                model = new LlamaModel(adapterOptions.load(modelDir, manager, ScoreHead.ABSENT));
                lora.attachIfAsked(model.weights(), modelDir, seed);
            }
            int context = model.config().maxPositionEmbeddings();
            int length = seqLen != null ? seqLen : Math.min(context, 4096);
            if (length > context || length < 2) {
                throw new IllegalArgumentException("--seq-len must be in [2, " + context + "], got " + length);
            }
            List<PackedSequence> rows = Packing.pack(examples, length, tokenizer.bosId(), tokenizer.sepId(),
                    tokenizer.eosId(), tokenizer.padId());
            int micro = microBatchSize != null ? microBatchSize : batchSize;
            long totalSteps = steps != null ? steps
                    : TrainingLoop.stepsForEpochs(rows.size(), batchSize, epochs != null ? epochs : defaultEpochs());
            double peak = lr != null ? lr : defaultLearningRate();
            int warm = warmup != null ? warmup : (int) Math.min(2000, Math.max(1, totalSteps / 10));
            LearningRateSchedule schedule = LearningRateSchedule.cosine(peak, warm, (int) totalSteps);
            System.err.printf(Locale.ROOT, "%s: %d documents -> %d rows of %d tokens; %d steps of %d rows "
                            + "(micro-batch %d), lr %.2e warm-up %d, cosine to 10%%%n", stage(), examples.size(),
                    rows.size(), length, totalSteps, batchSize, micro, peak, warm);

            JsonObject meta = new JsonObject();
            meta.addProperty("stage", stage());
            meta.addProperty("data", data.toString());
            meta.addProperty("base_model", modelDir.toString());
            if (model.weights().adapter() != null) {
                System.err.printf(Locale.ROOT, "%s: training the LoRA adapter only (%s): %,d of %,d parameters%n",
                        stage(), model.weights().adapter().config(), count(model.weights().trainable()),
                        count(model.weights().tensors()));
            }
            try (Trainer trainer = new Trainer(model, schedule)) {
                if (optimizerState != null) {
                    trainer.restore(startStep, optimizerState);
                }
                double[] lastLoss = {Double.NaN};
                long tokensPerStep = (long) batchSize * length;
                try (ScalarLog log = ScalarLog.open(checkpoints.resolve("tensorboard"));
                     ProgressBar bar = new ProgressBar(stage(), totalSteps, "steps")) {
                    bar.set(startStep, "");
                    TrainingLoop.run(trainer, rows, cursor, new TrainingLoop.Options(batchSize, micro, totalSteps),
                            (result, after) -> {
                                lastLoss[0] = result.loss();
                                log.trainingStep(result, tokensPerStep, java.util.Map.of());
                                bar.step(1, String.format(Locale.ROOT, "loss %.4f lr %.2e", result.loss(),
                                        result.learningRate()));
                                boolean last = result.step() == totalSteps;
                                if (!last && saveEvery > 0 && result.step() % saveEvery == 0) {
                                    TrainingCheckpoint.save(trainer, after,
                                            checkpoints.resolve(String.format(Locale.ROOT, "step-%08d", result.step())),
                                            SaveOptions.defaults(result.step()).withMetadata(meta));
                                }
                                if (last) {
                                    meta.addProperty("final_loss", result.loss());
                                    meta.addProperty("steps", result.step());
                                    TrainingCheckpoint.save(trainer, after, out, SaveOptions.defaults(result.step())
                                            .withMetadata(meta)
                                            .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(
                                                    tokenizerDir(), dir)));
                                }
                            });
                }
                System.out.printf(Locale.ROOT, "%s: wrote %s after %d steps, final loss %.4f%n", stage(), out,
                        trainer.stepCount(), lastLoss[0]);
            }
        }
        return 0;
    }

    /** The adapter's tokenizer when --adapter carries one, else the model's. */
    private Path tokenizerDir() {
        Path a = adapterOptions.adapter;
        return a != null && Files.exists(a.resolve("tokenizer.json")) ? a : modelDir;
    }

    private static long count(java.util.Map<String, ai.djl.ndarray.NDArray> tensors) {
        return tensors.values().stream().mapToLong(t -> t.getShape().size()).sum();
    }
}
