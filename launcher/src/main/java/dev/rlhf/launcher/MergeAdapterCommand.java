package dev.rlhf.launcher;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf merge-adapter}: fold a LoRA adapter into its base, W + (alpha / r) B A, as a full HF checkpoint. */
@Command(name = "merge-adapter", mixinStandardHelpOptions = true,
        description = {"Write a full HF checkpoint whose weights are the base's with the LoRA adapter folded in "
                + "(W + alpha/r * B A on each target projection), so any Llama loader runs it without PEFT.",
            "The adapter's score head, when it has one, is kept; the tokenizer files are copied."})
final class MergeAdapterCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "The base model directory the adapter was made for.")
    Path model;

    @Option(names = "--adapter", required = true, description = "The adapter directory (PEFT format).")
    Path adapter;

    @Option(names = "--out", required = true, description = "Directory to create (must not exist).")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out)) {
            throw new IllegalArgumentException("output directory already exists: " + out);
        }
        try (NDManager manager = NDManager.newBaseManager();
             LlamaWeights adapted = LlamaCheckpoint.load(model, adapter, manager, ScoreHead.OPTIONAL);
             LlamaWeights merged = adapted.mergedCopy(manager.newSubManager())) {
            JsonObject meta = new JsonObject();
            meta.addProperty("stage", "merge-adapter");
            meta.addProperty("base_model", model.toString());
            meta.addProperty("adapter", adapter.toString());
            meta.addProperty("lora", adapted.adapter().config().toString());
            Path source = Files.exists(adapter.resolve("tokenizer.json")) ? adapter : model;
            LlamaCheckpoint.save(merged, out, LlamaCheckpoint.SaveOptions.defaults(0).withMetadata(meta)
                    .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(source, dir)));
            System.out.println("merge-adapter: wrote " + out + " (" + adapted.adapter().config() + " folded into "
                    + model + ")");
        }
        return 0;
    }
}
