package dev.rlhf.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.PpoRewards;
import dev.rlhf.llama.rl.PpoTrainer;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.llama.rl.RewardModelTraining;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.vocabulary.SamplingParams;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * The GPU checks of issue 14 in one run (bench/gpu/run.sh calls it), written to {@code <out>/results.json}; each
 * check records its numbers or its error, and a failed check never stops the others:
 * <ol>
 *   <li>parity: the same random model's logits on the device against the CPU in fp32 (max |diff|; the bar
 *       is 1e-3) and bf16 (reported), and the greedy continuation of both;
 *   <li>generation tokens/s at B=1 and B=64, fp32 and bf16, through {@link Generator};
 *   <li>an SFT training step: tokens/s and MFU = 6 x matmul parameters x tokens/s / the card's bf16 peak;
 *   <li>one PPO iteration and one reward-model step (after a warm-up one): seconds, and the card's memory in use
 *       after each.
 * </ol>
 * {@code --dry} runs the same code on the CPU with small shapes (what can be checked without a GPU: the script, the
 * classpath and every code path); its numbers are not GPU numbers.
 *
 * <p>bf16: converting a tensor to bf16 aborts the whole process (std::terminate) with DJL 0.36's CPU libtorch
 * 2.7.1, so {@code --probe-bf16} tries it alone and exits 0 when it works; run.sh runs that probe in its own JVM
 * first and passes {@code --no-bf16} (recorded as skipped, with the reason) when it did not.
 *
 * <pre>GpuChecks --out DIR [--device gpu|cpu] [--dry] [--no-bf16] [--peak-tflops 989]
 * GpuChecks --probe-bf16 [--device gpu|cpu]</pre>
 */
public final class GpuChecks {
    private static final long SEED = 20261206;

    private GpuChecks() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = BenchSupport.parseArgs(argv);
        Path out = Path.of(args.getOrDefault("out", "gpu-results"));
        boolean dry = args.containsKey("dry");
        Device device = Device.fromName(args.getOrDefault("device", dry ? "cpu" : "gpu"));
        double peakTflops = Double.parseDouble(args.getOrDefault("peak-tflops", "989"));
        if (args.containsKey("probe-bf16")) {
            try (NDManager m = NDManager.newBaseManager(device)) {
                NDArray x = m.ones(new Shape(4, 4)).toType(DataType.BFLOAT16, false);
                System.out.println("bf16 ok on " + device + ": " + x.matMul(x).toType(DataType.FLOAT32, false)
                        .sum().getFloat());
            }
            return;
        }
        boolean bf16 = !args.containsKey("no-bf16");
        DataType[] dtypes = bf16 ? new DataType[] {DataType.FLOAT32, DataType.BFLOAT16}
                : new DataType[] {DataType.FLOAT32};
        Files.createDirectories(out);

        Map<String, Object> results = new LinkedHashMap<>();
        results.put("bf16", bf16 ? "run" : "skipped: the bf16 probe (GpuChecks --probe-bf16) aborted its process on "
                + "this engine build, and would abort this one");
        results.put("dry", dry);
        results.put("device", device.toString());
        results.put("engine", Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion());
        results.put("gpuCount", Engine.getInstance().getGpuCount());
        // Dry: shapes a 2-core CPU runs in a minute or two. GPU: the 100M-400M (110M: llama2.c's shape).
        LlamaConfig parityShape = LlamaConfig.preset("stories15m");
        LlamaConfig genShape = dry ? LlamaConfig.preset("stories15m") : shape(768, 2048, 12, 12, 12, 32000);
        LlamaConfig trainShape = dry ? LlamaConfig.preset("stories15m") : shape(1024, 2816, 16, 16, 24, 32000);
        int[] batches = dry ? new int[] {1, 4} : new int[] {1, 64};
        int newTokens = dry ? 16 : 128;
        int trainBatch = dry ? 2 : 8;
        int trainSeq = dry ? 64 : 512;

        results.put("parity", check("parity", () -> parity(parityShape, device, dry, dtypes)));
        Map<String, Object> generation = new LinkedHashMap<>();
        for (DataType dtype : dtypes) {
            for (int b : batches) {
                generation.put(dtype.name().toLowerCase(Locale.ROOT) + "_b" + b,
                        check("generation " + dtype + " B=" + b, () -> generation(genShape, device, dtype, b,
                                newTokens)));
            }
        }
        results.put("generation", generation);
        results.put("generationShape", EngineBench.configSummary(genShape));
        Map<String, Object> training = new LinkedHashMap<>();
        for (DataType dtype : dtypes) {
            training.put(dtype.name().toLowerCase(Locale.ROOT),
                    check("SFT step " + dtype, () -> sftStep(trainShape, device, dtype, trainBatch, trainSeq,
                            peakTflops)));
        }
        results.put("sftStep", training);
        results.put("trainShape", EngineBench.configSummary(trainShape));
        results.put("ppoIteration", check("PPO iteration", () -> ppoIteration(genShape, device, dry)));
        results.put("rewardModelStep", check("reward-model step", () -> rewardStep(genShape, device, dry)));

        String json = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create()
                .toJson(results);
        Files.writeString(out.resolve("results.json"), json + "\n", StandardCharsets.UTF_8);
        System.out.println(json);
    }

    private static LlamaConfig shape(int dim, int hidden, int heads, int kvHeads, int layers, int vocab) {
        return new LlamaConfig(dim, hidden, heads, kvHeads, layers, 1024, 1e-5, 10000, vocab, false, 1, 2);
    }

    /** Runs one check; its numbers, or {"error": ...} with the exception (the run goes on). */
    private static Object check(String name, Supplier<Map<String, Object>> body) {
        System.err.println("gpu-checks: " + name + " ...");
        long t0 = System.nanoTime();
        try {
            Map<String, Object> r = body.get();
            r.put("seconds", (System.nanoTime() - t0) / 1e9);
            return r;
        } catch (RuntimeException | Error e) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("error", e.toString());
            StackTraceElement[] trace = e.getStackTrace();
            r.put("at", trace.length > 0 ? trace[0].toString() : "");
            return r;
        }
    }

    private static int[] tokens(int length, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) {
            ids[i] = 3 + r.nextInt(vocab - 3);
        }
        return ids;
    }

    /** Model weights on {@code device} in {@code dtype}, from the same seed as every other copy. */
    private static LlamaModel model(LlamaConfig c, NDManager manager, DataType dtype, boolean scoreHead) {
        LlamaWeights w = LlamaWeights.randomInit(c, manager, SEED, scoreHead);
        return new LlamaModel(dtype == DataType.FLOAT32 ? w : w.copy(manager, dtype));
    }

    private static float[] logits(LlamaModel model, NDManager m, int[] ids) {
        long[] longs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            longs[i] = ids[i];
        }
        NDArray out = model.logits(model.hidden(m.create(longs, new Shape(1, ids.length)),
                m.arange(0, ids.length, 1, DataType.INT64).reshape(1, ids.length),
                m.ones(new Shape(1, ids.length), DataType.INT32), null));
        return out.toType(DataType.FLOAT32, false).toFloatArray();
    }

    private static Map<String, Object> parity(LlamaConfig c, Device device, boolean dry, DataType[] dtypes) {
        Map<String, Object> r = new LinkedHashMap<>();
        int[] ids = tokens(64, c.vocabSize(), 1);
        try (GradMode.Restore ignored = GradMode.disabled();
             NDManager cpu = NDManager.newBaseManager(Device.cpu());
             NDManager dev = NDManager.newBaseManager(device)) {
            float[] reference = logits(model(c, cpu, DataType.FLOAT32, false), cpu, ids);
            for (DataType dtype : dtypes) {
                float[] ours = logits(model(c, dev, dtype, false), dev, ids);
                double max = 0;
                for (int i = 0; i < ours.length; i++) {
                    max = Math.max(max, Math.abs(ours[i] - reference[i]));
                }
                r.put(dtype.name().toLowerCase(Locale.ROOT) + "MaxAbsDiff", max);
            }
            r.put("fp32Within1e-3", (double) r.get("float32MaxAbsDiff") <= 1e-3);
            List<int[]> prompt = List.of(tokens(8, c.vocabSize(), 2));
            int[] onCpu = new Generator(model(c, cpu, DataType.FLOAT32, false), x -> "", 0)
                    .generate(prompt, SamplingParams.greedy(32)).samples().get(0).get(0).tokens();
            int[] onDevice = new Generator(model(c, dev, DataType.FLOAT32, false), x -> "", 0)
                    .generate(prompt, SamplingParams.greedy(32)).samples().get(0).get(0).tokens();
            r.put("greedyContinuationEqual", java.util.Arrays.equals(onCpu, onDevice));
            r.put("note", dry ? "dry run: the device is the CPU, so both sides are the same computation" : "");
        }
        return r;
    }

    private static Map<String, Object> generation(LlamaConfig c, Device device, DataType dtype, int batch,
                                                  int newTokens) {
        Map<String, Object> r = new LinkedHashMap<>();
        try (GradMode.Restore ignored = GradMode.disabled(); NDManager dev = NDManager.newBaseManager(device)) {
            Generator generator = new Generator(model(c, dev, dtype, false), x -> "", 0);
            List<int[]> prompts = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                prompts.add(tokens(16, c.vocabSize(), 10 + b));
            }
            SamplingParams params = SamplingParams.greedy(newTokens);
            generator.generate(prompts, params); // warm-up (kernels, allocator)
            double[] rates = new double[3];
            for (int i = 0; i < rates.length; i++) {
                long start = System.nanoTime();
                Generator.Result result = generator.generate(prompts, params);
                long generated = result.samples().stream().flatMap(List::stream).mapToLong(s -> s.tokens().length)
                        .sum();
                rates[i] = generated * 1e9 / (System.nanoTime() - start);
                r.put("modelDecodeTokPerSec", result.stats().decodeTokensPerSecond());
            }
            r.put("wallTokPerSec", BenchSupport.median(rates));
            r.put("batch", batch);
            r.put("newTokens", newTokens);
            r.put("cardMemoryUsedMiB", deviceMemoryMiB(device));
        }
        return r;
    }

    private static Map<String, Object> sftStep(LlamaConfig c, Device device, DataType dtype, int batch, int seq,
                                               double peakTflops) {
        Map<String, Object> r = new LinkedHashMap<>();
        LlamaConfig sized = seq > c.maxPositionEmbeddings() ? c.withMaxPositionEmbeddings(seq) : c;
        try (NDManager dev = NDManager.newBaseManager(device);
             Trainer trainer = new Trainer(model(sized, dev, dtype, false), LearningRateSchedule.constant(1e-4))) {
            List<List<PackedSequence>> step = List.of(EngineBench.randomRows(batch, seq, sized.vocabSize(), SEED));
            trainer.languageModelStep(step); // warm-up
            double[] seconds = new double[3];
            double loss = Double.NaN;
            for (int i = 0; i < seconds.length; i++) {
                long start = System.nanoTime();
                loss = trainer.languageModelStep(step).loss();
                seconds[i] = (System.nanoTime() - start) / 1e9;
            }
            double tokPerSec = batch * (double) seq / BenchSupport.median(seconds);
            r.put("batch", batch);
            r.put("seq", seq);
            r.put("loss", loss);
            r.put("secondsPerStep", BenchSupport.median(seconds));
            r.put("tokPerSec", tokPerSec);
            // MFU against the bf16 dense peak, whatever the dtype (fp32 runs on other units: read it as a ratio only).
            r.put("mfuVsBf16Peak", 6.0 * EngineBench.matmulParams(sized) * tokPerSec / (peakTflops * 1e12));
            r.put("peakTflopsAssumed", peakTflops);
            r.put("cardMemoryUsedMiB", deviceMemoryMiB(device));
        }
        return r;
    }

    private static Map<String, Object> ppoIteration(LlamaConfig c, Device device, boolean dry) {
        Map<String, Object> r = new LinkedHashMap<>();
        int responses = dry ? 4 : 64;
        try (NDManager dev = NDManager.newBaseManager(device)) {
            LlamaModel policy = model(c, dev, DataType.FLOAT32, true);
            LlamaModel reference = model(c, dev, DataType.FLOAT32, false);
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, new PpoTrainer.Options(1e-6, Math.min(responses, 16),
                    0.01, PpoRewards.KlEstimator.K1, 1.0, 0.95, 0.2, 0.2, 0.1, SEED), 0)) {
                List<PpoTrainer.Rollout> batch = new ArrayList<>();
                for (int i = 0; i < responses; i++) {
                    batch.add(new PpoTrainer.Rollout(tokens(16, c.vocabSize(), 300 + i),
                            tokens(dry ? 16 : 128, c.vocabSize(), 400 + i), (i % 3) - 1.0));
                }
                ppo.iterate(batch); // warm-up (kernels, allocator, autograd graph)
                long start = System.nanoTime();
                PpoTrainer.IterationStats stats = ppo.iterate(batch);
                r.put("secondsPerIteration", (System.nanoTime() - start) / 1e9);
                r.put("responses", responses);
                r.put("steps", stats.steps());
                r.put("meanKl", stats.meanKl());
                r.put("cardMemoryUsedMiB", deviceMemoryMiB(device));
            }
        }
        return r;
    }

    private static Map<String, Object> rewardStep(LlamaConfig c, Device device, boolean dry) {
        Map<String, Object> r = new LinkedHashMap<>();
        int pairs = dry ? 4 : 64;
        try (NDManager dev = NDManager.newBaseManager(device);
             Trainer trainer = new Trainer(model(c, dev, DataType.FLOAT32, true),
                     LearningRateSchedule.constant(1e-5))) {
            List<RewardModelTraining.TokenPair> batch = new ArrayList<>();
            for (int i = 0; i < pairs; i++) {
                batch.add(new RewardModelTraining.TokenPair(tokens(64, c.vocabSize(), 500 + i),
                        tokens(64, c.vocabSize(), 600 + i), RankingLoss.Margin.SMALL.of(RankingLoss.Rating.BETTER),
                        null, null));
            }
            trainer.step(List.of(batch), (m, b) -> RewardModelTraining.lossSum(m, b, 0, 0), batch.size()); // warm-up
            long start = System.nanoTime();
            double loss = trainer.step(List.of(batch), (m, b) -> RewardModelTraining.lossSum(m, b, 0, 0),
                    batch.size()).loss();
            r.put("secondsPerStep", (System.nanoTime() - start) / 1e9);
            r.put("pairs", pairs);
            r.put("loss", loss);
            r.put("cardMemoryUsedMiB", deviceMemoryMiB(device));
        }
        return r;
    }

    /**
     * Memory in use on the whole card now (total minus free, cudaMemGetInfo through DJL), including what the
     * caching allocator kept from earlier checks; null on the CPU.
     */
    private static Double deviceMemoryMiB(Device device) {
        if (!device.isGpu()) {
            return null;
        }
        java.lang.management.MemoryUsage usage = ai.djl.util.cuda.CudaUtils.getGpuMemory(device);
        return usage.getUsed() / (1024.0 * 1024.0);
    }
}
