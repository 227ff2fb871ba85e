package dev.rlhf.launcher;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens a model directory: the checkpoint and, when present, its tokenizer. */
final class ModelFiles implements AutoCloseable {
    final NDManager manager;
    final LlamaModel model;
    final LlamaTokenizer tokenizer; // null when the directory has no tokenizer.json

    private ModelFiles(NDManager manager, LlamaModel model, LlamaTokenizer tokenizer) {
        this.manager = manager;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    static ModelFiles open(Path dir, String device) {
        return open(dir, new AdapterOptions(), device);
    }

    /** With {@code --adapter} applied; the tokenizer is the adapter directory's when it has one, else the model's. */
    static ModelFiles open(Path dir, AdapterOptions adapter, String device) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("model directory not found: " + dir);
        }
        NDManager manager = NDManager.newBaseManager(Devices.resolve(device));
        try {
            LlamaModel model = new LlamaModel(adapter.load(dir, manager, ScoreHead.OPTIONAL));
            Path tokenizerDir = adapter.adapter != null && Files.exists(adapter.adapter.resolve("tokenizer.json"))
                    ? adapter.adapter : dir;
            LlamaTokenizer tokenizer = Files.exists(tokenizerDir.resolve("tokenizer.json"))
                    ? LlamaTokenizer.load(tokenizerDir) : null;
            if (tokenizer != null && tokenizer.vocabSize() > model.config().vocabSize()) {
                throw new IllegalArgumentException("tokenizer has " + tokenizer.vocabSize()
                        + " tokens but the model's vocab_size is " + model.config().vocabSize());
            }
            return new ModelFiles(manager, model, tokenizer);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    LlamaTokenizer requireTokenizer(String why) {
        if (tokenizer == null) {
            throw new IllegalArgumentException("the model directory has no tokenizer.json, needed " + why);
        }
        return tokenizer;
    }

    @Override
    public void close() {
        if (tokenizer != null) {
            tokenizer.close();
        }
        model.close();
        manager.close();
    }
}
