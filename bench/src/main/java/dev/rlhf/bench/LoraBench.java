package dev.rlhf.bench;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.AdapterCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.SharedBases;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.lora.LoraConfig;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.PpoTrainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Full fine-tuning against LoRA in a PPO iteration, one mode per JVM so the memory peaks do not mix:
 * <pre>
 * LoraBench --write-base DIR [--shape gqa]
 * LoraBench --mode full|lora --base DIR [--rank 8] [--batch 16] [--mini-batch 8] [--prompt 16]
 *           [--response 112] [--iterations 3] [--threads N] [--out file.json]
 * </pre>
 * The policy starts from a random checkpoint that {@code --write-base} wrote in a JVM of its own (so its set-up
 * garbage is not in the measured process). full: the policy and a separate
 * reference pi_0 loaded from it, every weight trained. lora: the same checkpoint with a new rank-r adapter on all
 * seven projections, pi_0 = the policy with the adapter off (no second copy). Reported: the persistent training
 * state (the policy's tensors, the trainable ones' gradients and AdamW moments, a separate reference's tensors:
 * counted, not sampled), the process's RSS with the models loaded and its peak (VmHWM, reset once loading is
 * done) over the PPO iterations, the median time of a {@link PpoTrainer#iterate} over {@code batch}
 * synthetic rollouts (GAE with a value head, mini-batches of {@code mini-batch}), the trainable parameters, the
 * update a service loads (the version's weight files: model.safetensors, or adapter_model.safetensors) and the
 * swap latency: loading that version the way the policy service does (a full checkpoint with its manifest
 * verified; an adapter onto the base already loaded, {@link SharedBases}), median of 3.
 */
public final class LoraBench {
    private LoraBench() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = BenchSupport.parseArgs(argv);
        BenchSupport.configureThreads(args);
        String mode = args.getOrDefault("mode", "lora");
        if (!mode.equals("full") && !mode.equals("lora")) {
            throw new IllegalArgumentException("--mode must be full or lora, got " + mode);
        }
        boolean lora = mode.equals("lora");
        String shape = args.getOrDefault("shape", "gqa");
        if (args.containsKey("write-base")) {
            try (NDManager root = NDManager.newBaseManager();
                 LlamaWeights w = LlamaWeights.randomInit(LlamaConfig.preset(shape), root.newSubManager(), 1234,
                         false)) {
                LlamaCheckpoint.save(w, Path.of(args.get("write-base")), SaveOptions.defaults(0));
            }
            return;
        }
        if (!args.containsKey("base")) {
            throw new IllegalArgumentException("--base DIR (written by --write-base DIR) is required");
        }
        Path base = Path.of(args.get("base"));
        int rank = Integer.parseInt(args.getOrDefault("rank", "8"));
        int batch = Integer.parseInt(args.getOrDefault("batch", "16"));
        int miniBatch = Integer.parseInt(args.getOrDefault("mini-batch", "8"));
        int promptLength = Integer.parseInt(args.getOrDefault("prompt", "16"));
        int responseLength = Integer.parseInt(args.getOrDefault("response", "112"));
        int iterations = Integer.parseInt(args.getOrDefault("iterations", "3"));
        LlamaConfig config = LlamaCheckpoint.readConfig(base);
        Map<String, Object> rec = BenchSupport.header("LoraBench");
        rec.put("mode", mode);
        rec.put("shape", shape);
        rec.put("config", EngineBench.configSummary(config));
        rec.put("batch", batch);
        rec.put("miniBatch", miniBatch);
        rec.put("tokensPerRollout", promptLength + responseLength);
        Path tmp = Files.createTempDirectory("lora-bench");
        try (NDManager root = NDManager.newBaseManager()) {
            LlamaWeights weights = LlamaCheckpoint.load(base, root, ScoreHead.ABSENT);
            LoraConfig adapter = new LoraConfig(rank, 2.0 * rank, 0, LoraConfig.ALL_TARGETS);
            if (lora) {
                weights.attachNewAdapter(AdapterCheckpoint.newAdapter(base, adapter), 1);
                rec.put("lora", adapter.toString());
            }
            LlamaModel policy = new LlamaModel(weights);
            LlamaModel reference = lora ? policy.withoutAdapter()
                    : new LlamaModel(LlamaCheckpoint.load(base, root, ScoreHead.ABSENT));
            PpoTrainer.Options options = PpoTrainer.Options.llama2(7).withEpochs(1, 0);
            options = new PpoTrainer.Options(1e-5, miniBatch, options.beta(), options.klEstimator(), options.gamma(),
                    options.lambda(), options.clip(), options.valueClip(), options.valueCoef(), 7);
            List<PpoTrainer.Rollout> rollouts = rollouts(batch, promptLength, responseLength, config.vocabSize());
            double[] seconds = new double[iterations];
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, options, 0)) {
                long trainable = ppo.trainer().parameterNames().stream()
                        .mapToLong(n -> policy.weights().get(n).getShape().size()).sum();
                long total = policy.weights().tensors().values().stream().mapToLong(t -> t.getShape().size()).sum();
                long referenceParams = lora ? 0 : reference.weights().tensors().values().stream()
                        .mapToLong(t -> t.getShape().size()).sum();
                rec.put("trainableParams", trainable);
                rec.put("totalParams", total);
                // float32: the policy, one gradient and two AdamW moments per trainable value, a separate pi_0.
                rec.put("stateBytes", 4 * (total + 3 * trainable + referenceParams));
                System.gc();
                rec.put("rssLoadedKiB", BenchSupport.procStatusKib("VmRSS"));
                rec.put("peakReset", BenchSupport.resetPeakRss());
                ppo.iterate(rollouts); // warm-up
                for (int i = 0; i < iterations; i++) {
                    long t0 = System.nanoTime();
                    ppo.iterate(rollouts);
                    seconds[i] = (System.nanoTime() - t0) / 1e9;
                }
                rec.put("iterationSeconds", BenchSupport.boxed(seconds));
                rec.put("medianIterationSeconds", BenchSupport.median(seconds));
                rec.put("vmHwmKiB", BenchSupport.procStatusKib("VmHWM"));
                // The Java heap is inside the RSS: its committed size says how much of the peak is not libtorch's.
                rec.put("heapCommittedBytes", java.lang.management.ManagementFactory.getMemoryMXBean()
                        .getHeapMemoryUsage().getCommitted());
                Path version = LlamaCheckpoint.save(policy.weights(), tmp.resolve("v1"), SaveOptions.defaults(1));
                rec.put("updateBytes", weightBytes(version));
                rec.put("swapSeconds", swapSeconds(version, lora, root));
            }
            reference.close();
            policy.close();
        } finally {
            AtomicDirectory.deleteRecursively(tmp);
        }
        rec.put("loadAfter", BenchSupport.loadAverage());
        System.out.printf(Locale.ROOT, "%-4s %s: PPO iteration %.2f s, state %.0f MiB, RSS loaded %.0f MiB, peak "
                        + "%.0f MiB, %,d of %,d parameters trained, update %,d bytes, swap %.3f s%n", mode, shape,
                (double) rec.get("medianIterationSeconds"), ((Number) rec.get("stateBytes")).doubleValue() / (1 << 20),
                ((Number) rec.get("rssLoadedKiB")).doubleValue() / 1024,
                ((Number) rec.get("vmHwmKiB")).doubleValue() / 1024, (long) rec.get("trainableParams"),
                (long) rec.get("totalParams"), (long) rec.get("updateBytes"), (double) rec.get("swapSeconds"));
        BenchSupport.writeJson(args.get("out"), rec);
    }

    /** Prompt and response ids from 3 (no pad, BOS or EOS), rewards in [-1, 1]: a fixed synthetic batch. */
    private static List<PpoTrainer.Rollout> rollouts(int batch, int prompt, int response, int vocab) {
        SplittableRandom r = new SplittableRandom(99);
        List<PpoTrainer.Rollout> out = new ArrayList<>(batch);
        for (int i = 0; i < batch; i++) {
            out.add(new PpoTrainer.Rollout(r.ints(prompt, 3, vocab).toArray(), r.ints(response, 3, vocab).toArray(),
                    2 * r.nextDouble() - 1));
        }
        return out;
    }

    /** The weight files of a version (what a service reads), without manifest, config or tokenizer. */
    private static long weightBytes(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).sum();
        }
    }

    /** Median of 3 loads of {@code version} as the policy service does it. */
    private static double swapSeconds(Path version, boolean lora, NDManager root) {
        double[] s = new double[3];
        try (SharedBases bases = new SharedBases(root)) {
            LlamaWeights held = lora ? bases.load(version, root, ScoreHead.ABSENT) : null; // the base now in memory
            for (int i = 0; i < s.length; i++) {
                long t0 = System.nanoTime();
                LlamaWeights w = lora ? bases.load(version, root, ScoreHead.ABSENT)
                        : LlamaCheckpoint.load(version, root, ScoreHead.ABSENT);
                s[i] = (System.nanoTime() - t0) / 1e9;
                w.close();
            }
            if (held != null) {
                held.close();
            }
        }
        return BenchSupport.median(s);
    }
}
