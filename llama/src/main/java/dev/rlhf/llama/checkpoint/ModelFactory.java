package dev.rlhf.llama.checkpoint;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.tokenizer.BpeTrainer;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Creates randomly initialised checkpoint directories (with a tokenizer), for `rlhf init-model` and tests. */
public final class ModelFactory {
    private ModelFactory() {}

    /**
     * Writes a random model sized for the tokenizer in {@code tokenizerDir} (vocab size and BOS/EOS ids follow
     * it), copying the tokenizer files into the checkpoint.
     */
    public static Path create(Path out, LlamaConfig architecture, Path tokenizerDir, long seed, boolean scoreHead) {
        LlamaConfig config = architecture;
        if (tokenizerDir != null) {
            try (LlamaTokenizer tok = LlamaTokenizer.load(tokenizerDir)) {
                config = architecture.withTokenizer(tok.vocabSize(), tok.bosId(), tok.eosId());
            }
        }
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", "init");
        meta.addProperty("seed", seed);
        try (NDManager manager = NDManager.newBaseManager();
             LlamaWeights weights = LlamaWeights.randomInit(config, manager.newSubManager(), seed, scoreHead)) {
            return LlamaCheckpoint.save(weights, out, LlamaCheckpoint.SaveOptions.defaults(0).withMetadata(meta)
                    .withExtraFiles(dir -> {
                        if (tokenizerDir != null) {
                            LlamaCheckpoint.copyTokenizerFiles(tokenizerDir, dir);
                        }
                    }));
        }
    }

    /**
     * Writes the starting point of a reward model (LLaMA 2 §3.2.2: "the classification head for next-token
     * prediction is replaced with a regression head that outputs a scalar reward"): {@code base}'s weights and
     * tokenizer with a zero scalar head, so every response first scores 0 (sigmoid 0.5).
     */
    public static Path withScalarHead(Path base, Path out) {
        return withScalarHead(base, out, null);
    }

    /**
     * As above; with {@code lora}, the reward model is a new LoRA adapter on {@code base} whose zero scalar head
     * rides in the adapter (PEFT's modules_to_save), so {@code out} is a small adapter directory that names
     * {@code base}. An adapter {@code base} keeps its adapter, and {@code out} names the base under it.
     */
    public static Path withScalarHead(Path base, Path out, dev.rlhf.llama.lora.LoraConfig lora) {
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", "reward-init");
        meta.addProperty("base", base.toString());
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaWeights weights = LlamaCheckpoint.loadToTrain(base, manager, LlamaCheckpoint.ScoreHead.ABSENT, lora,
                    0);
            weights.put(LlamaWeights.SCORE_HEAD, weights.manager().zeros(
                    new ai.djl.ndarray.types.Shape(1, weights.config().hiddenSize()), weights.dataType()));
            return LlamaCheckpoint.save(weights, out, LlamaCheckpoint.SaveOptions.defaults(0).withMetadata(meta)
                    .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(base, dir)));
        }
    }

    /** Trains a byte-level BPE tokenizer on {@code texts} into {@code dir}. */
    public static Path trainTokenizer(List<String> texts, int vocabSize, Path dir) {
        try {
            Files.createDirectories(dir);
            new BpeTrainer(vocabSize).train(texts).writeTokenizerJson(dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A tiny model + tokenizer for tests and local smoke runs, built from a few sentences. */
    public static Path tinyForTests(Path out, long seed, boolean scoreHead) {
        Path tok = out.resolveSibling(out.getFileName() + ".tokenizer");
        if (!Files.exists(tok.resolve("tokenizer.json"))) {
            trainTokenizer(List.of("What is 2 plus 3? 2 plus 3 is 5.", "I cannot help with that request.",
                    "The capital of France is Paris.", "hello world, how are you today?"), 300, tok);
        }
        return create(out, LlamaConfig.preset("tiny"), tok, seed, scoreHead);
    }
}
