package dev.rlhf.launcher;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf init-model}: a randomly initialised model in the HF layout, optionally with a new tokenizer. */
@Command(name = "init-model", mixinStandardHelpOptions = true,
        description = {"Create a randomly initialised LLaMA-2 model directory (config.json, model.safetensors, "
                + "manifest.json; plus tokenizer.json when given --corpus or --tokenizer).",
            "With a tokenizer, vocab_size and the BOS/EOS ids follow the tokenizer."})
final class InitModelCommand implements Callable<Integer> {
    @Option(names = "--config", required = true,
            description = "Preset (tiny, small, stories15m, gqa) or a config.json file.")
    String config;

    @Option(names = "--out", required = true, description = "Directory to create (must not exist).")
    Path out;

    @Option(names = "--corpus", description = "Train a byte-level BPE tokenizer on this text or JSONL file.")
    Path corpus;

    @Option(names = "--vocab-size", description = "Tokenizer vocabulary size with --corpus "
            + "(default: the config's vocab_size).")
    Integer vocabSize;

    @Option(names = "--tokenizer", description = "Copy the tokenizer of this directory (or tokenizer.json file).")
    Path tokenizerSource;

    @Option(names = "--seed", defaultValue = "0", description = "Random init seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (corpus != null && tokenizerSource != null) {
            throw new IllegalArgumentException("give --corpus or --tokenizer, not both");
        }
        if (Files.exists(out)) {
            throw new IllegalArgumentException("output directory already exists: " + out);
        }
        LlamaConfig cfg = LlamaConfig.preset(config);
        Path tokenizerDir = null;
        Path scratch = null;
        if (corpus != null) {
            scratch = Files.createTempDirectory("rlhf-tokenizer");
            TokenizerCommand.Train.trainTokenizer(corpus, vocabSize != null ? vocabSize : cfg.vocabSize(), scratch);
            tokenizerDir = scratch;
        } else if (tokenizerSource != null) {
            tokenizerDir = Files.isDirectory(tokenizerSource) ? tokenizerSource : tokenizerSource.getParent();
        }
        if (tokenizerDir != null) {
            try (LlamaTokenizer tok = LlamaTokenizer.load(tokenizerDir)) {
                cfg = cfg.withTokenizer(tok.vocabSize(), tok.bosId(), tok.eosId()); // for the summary line
            }
        }
        try {
            ModelFactory.create(out, cfg, tokenizerDir, seed, false);
        } finally {
            if (scratch != null) {
                dev.rlhf.llama.io.AtomicDirectory.deleteRecursively(scratch);
            }
        }
        boolean withTokenizer = tokenizerDir != null;
        System.out.printf("created %s: %,d parameters (%d layers, hidden %d, %d heads / %d KV heads, vocab %d)%s%n",
                out, cfg.parameterCount(), cfg.numHiddenLayers(), cfg.hiddenSize(), cfg.numAttentionHeads(),
                cfg.numKeyValueHeads(), cfg.vocabSize(), withTokenizer ? ", with tokenizer" : "");
        return 0;
    }
}
