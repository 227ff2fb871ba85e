package dev.rlhf.launcher;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.llama.tokenizer.BpeTrainer;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf tokenizer ...}: tokenizer tools. */
@Command(name = "tokenizer", mixinStandardHelpOptions = true, description = "Tokenizer tools.",
        subcommands = {TokenizerCommand.Train.class})
final class TokenizerCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (train)");
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Train a byte-level BPE tokenizer (digits split, LLaMA 2 §2.2) and write a Hugging Face "
                    + "tokenizer.json that `rlhf` and HF tools load.",
                "Special tokens: <pad>=0, <s>=1, </s>=2, <sep>=3 (prompt/answer separator for SFT)."})
    static final class Train implements Callable<Integer> {
        @Option(names = "--corpus", required = true,
                description = "Plain text (one document per line) or JSONL with \"text\" or \"prompt\"/\"response\".")
        Path corpus;

        @Option(names = "--vocab-size", required = true, description = "Vocabulary size (>= 260).")
        int vocabSize;

        @Option(names = "--out", required = true, description = "Output directory.")
        Path out;

        @Override
        public Integer call() throws Exception {
            trainTokenizer(corpus, vocabSize, out);
            try (LlamaTokenizer t = LlamaTokenizer.load(out)) {
                System.out.printf("wrote %s (%d tokens)%n", out.resolve("tokenizer.json"), t.vocabSize());
            }
            return 0;
        }

        static void trainTokenizer(Path corpus, int vocabSize, Path out) throws IOException {
            List<String> texts = readCorpus(corpus);
            try (ProgressBar bar = new ProgressBar("tokenizer", Math.max(1, vocabSize - BpeTrainer.MIN_VOCAB_SIZE),
                    "merges")) {
                BpeTrainer trainer = new BpeTrainer(vocabSize, (done, total) -> bar.set(done, ""));
                trainer.train(texts);
                Files.createDirectories(out);
                trainer.writeTokenizerJson(out);
            }
        }

        static List<String> readCorpus(Path corpus) throws IOException {
            if (!Files.isRegularFile(corpus)) {
                throw new IllegalArgumentException("corpus file not found: " + corpus);
            }
            List<String> lines = Files.readAllLines(corpus, StandardCharsets.UTF_8);
            if (!corpus.toString().endsWith(".jsonl")) {
                return lines;
            }
            List<String> texts = new ArrayList<>();
            int n = 0;
            for (String line : lines) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                    for (String key : List.of("text", "prompt", "response", "chosen", "rejected")) {
                        if (o.has(key) && o.get(key).isJsonPrimitive()) {
                            texts.add(o.get(key).getAsString());
                        }
                    }
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(corpus + ":" + n + ": not a JSON object");
                }
            }
            return texts;
        }
    }
}
