package dev.rlhf.launcher;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.AdapterCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code rlhf import-model}: checks a Hugging Face checkpoint the way the services will load it, then copies it
 * byte for byte into the model store with a manifest (k8s/tools/model-import.yaml runs it in the cluster).
 */
@Command(name = "import-model", mixinStandardHelpOptions = true,
        description = {"Check a Hugging Face Llama checkpoint (config.json, *.safetensors, tokenizer.json) as the "
                + "services load it, then copy its files unchanged into a new directory with a manifest.json of "
                + "their sha256, written atomically: a reader sees the whole model or nothing.",
            "A policy is loaded without a score head; a reward model must have score.weight. A manifest in the "
                + "source is verified first. LoRA adapter directories are refused: import their base."})
final class ImportModelCommand implements Callable<Integer> {
    @Option(names = "--from", required = true, description = "The checkpoint directory to import.")
    Path from;

    @Option(names = "--out", required = true, description = "Directory to create in the model store.")
    Path out;

    @Option(names = "--kind", defaultValue = "policy",
            description = "policy or reward (default: ${DEFAULT-VALUE}).")
    String kind;

    @Option(names = "--replace", description = "Replace an existing --out (atomically; the old copy is deleted).")
    boolean replace;

    @Override
    public Integer call() throws Exception {
        ScoreHead head = switch (kind) {
            case "policy" -> ScoreHead.ABSENT;
            case "reward" -> ScoreHead.REQUIRED;
            default -> throw new IllegalArgumentException("--kind must be policy or reward, got '" + kind + "'");
        };
        if (!Files.isDirectory(from)) {
            throw new IllegalArgumentException("--from " + from + " is not a directory");
        }
        if (AdapterCheckpoint.isAdapter(from)) {
            throw new IllegalArgumentException(from + " is a LoRA adapter; import its base model (adapters are "
                    + "versions the trainer writes)");
        }
        if (!replace && Files.exists(out)) {
            throw new IllegalArgumentException("output directory already exists: " + out + " (--replace overwrites)");
        }
        LlamaConfig config; // the load verifies a manifest the source has, as the services' loads do
        try (NDManager manager = NDManager.newBaseManager();
             LlamaWeights weights = LlamaCheckpoint.load(from, manager, head)) {
            config = weights.config();
        }
        try (LlamaTokenizer tokenizer = LlamaTokenizer.load(from)) {
            if (tokenizer.vocabSize() > config.vocabSize()) {
                throw new IllegalArgumentException("tokenizer.json has " + tokenizer.vocabSize()
                        + " tokens, the model's vocab_size is " + config.vocabSize());
            }
        }
        List<Path> files = sourceFiles();
        long bytes = 0;
        for (Path f : files) {
            bytes += Files.size(f);
        }
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", "import-model");
        meta.addProperty("kind", kind);
        meta.addProperty("source", from.toAbsolutePath().normalize().toString());
        Path written = AtomicDirectory.write(out, replace, dir -> {
            for (Path f : files) {
                Path target = dir.resolve(from.relativize(f).toString());
                Files.createDirectories(target.getParent());
                Files.copy(f, target);
            }
            Manifest.create(dir, 0, meta).write(dir);
        });
        System.out.printf(Locale.ROOT, "import-model: %s (%d files, %.1f MiB, %s, %d layers, vocab %d), manifest "
                        + "sha256 %s%n", written, files.size(), bytes / 1048576.0, kind, config.numHiddenLayers(),
                config.vocabSize(), Manifest.sha256(written.resolve(Manifest.FILE_NAME)));
        return 0;
    }

    /** Regular files under --from, except its manifest (rewritten) and hidden entries (.git, .cache, ...). */
    private List<Path> sourceFiles() throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            return walk.filter(Files::isRegularFile)
                    .filter(p -> !p.equals(from.resolve(Manifest.FILE_NAME)))
                    .filter(p -> java.util.stream.StreamSupport.stream(from.relativize(p).spliterator(), false)
                            .noneMatch(part -> part.toString().startsWith(".")))
                    .sorted()
                    .collect(Collectors.toList());
        }
    }
}
