package dev.rlhf.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.cpu.CpuDecoding;
import dev.rlhf.llama.cpu.SequenceDecoder;
import dev.rlhf.llama.generate.FinishReason;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.model.KvCache;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Trainer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Throughput and peak memory of the DJL LLaMA engine on random weights, one case per JVM so memory peaks do
 * not mix (bench/scripts/run-engine-bench.sh runs them all).
 *
 * <pre>
 * EngineBench --shape stories15m|gqa --case decode|prefill|train|ops [--batch B] [--prompt 16]
 *             [--new-tokens 240] [--seq 128] [--warmup N] [--repeats N] [--threads N] [--out file.json]
 *             [--engine djl|cpu] [--temperature T] [--ids TOKEN]
 * </pre>
 *
 * decode: B prompts of {@code --prompt} random tokens, greedy, {@code --new-tokens} new tokens each, through
 * {@link Generator}; reports the model-only decode rate of {@link Generator.Stats} and the wall-clock rate of
 * the whole {@code generate()} call (sampling, log-probs and prefill included). {@code --engine cpu} decodes batches
 * of one row on the Vector API decoder ({@link CpuDecoding}); {@code --ids 1} starts every row from that one token.
 * prefill: B prompts of {@code --seq} tokens, one new token. train: one AdamW step over B packed rows of
 * {@code --seq} tokens (forward + backward + clipping + AdamW). ops: cost of one tiny JNI op, NDArrays created
 * per decode step, and the time of the decode step's matmuls alone.
 */
public final class EngineBench {
    private static final long SEED = 1234;

    private EngineBench() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = BenchSupport.parseArgs(argv);
        BenchSupport.configureThreads(args);
        String shape = args.getOrDefault("shape", "stories15m");
        String kase = args.getOrDefault("case", "decode");
        int batch = Integer.parseInt(args.getOrDefault("batch", "1"));
        LlamaConfig config = LlamaConfig.preset(shape);
        int seq = Integer.parseInt(args.getOrDefault("seq", kase.equals("train") ? "256" : "128"));
        if (kase.equals("train") && seq > config.maxPositionEmbeddings()) {
            config = config.withMaxPositionEmbeddings(seq);
        }

        Map<String, Object> rec = BenchSupport.header("EngineBench");
        rec.put("shape", shape);
        rec.put("case", kase);
        rec.put("batch", batch);
        rec.put("config", configSummary(config));

        try (NDManager root = NDManager.newBaseManager()) {
            long t0 = System.nanoTime();
            LlamaWeights weights = LlamaWeights.randomInit(config, root, SEED, false);
            LlamaModel model = new LlamaModel(weights);
            rec.put("initSeconds", (System.nanoTime() - t0) / 1e9);
            rec.put("threads", JniUtils.getNumThreads());
            rec.put("interopThreads", JniUtils.getNumInteropThreads());
            rec.put("rssAfterInitKiB", BenchSupport.procStatusKib("VmRSS"));
            rec.put("hwmAfterInitKiB", BenchSupport.procStatusKib("VmHWM"));
            System.gc();
            BenchSupport.resetHeapPeaks();
            switch (kase) {
                case "decode" -> decode(model, batch, args, rec);
                case "prefill" -> prefill(model, batch, seq, args, rec);
                case "train" -> train(model, batch, seq, args, rec);
                case "ops" -> ops(model, batch, args, rec);
                default -> throw new IllegalArgumentException("unknown --case " + kase);
            }
            rec.put("vmHwmKiB", BenchSupport.procStatusKib("VmHWM"));
            rec.put("vmRssEndKiB", BenchSupport.procStatusKib("VmRSS"));
            rec.put("heapPeakBytes", BenchSupport.heapPeakBytes());
            rec.put("loadAfter", BenchSupport.loadAverage());
            model.close();
        }
        printRow(rec);
        BenchSupport.writeJson(args.get("out"), rec);
    }

    static Map<String, Object> configSummary(LlamaConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("dim", c.hiddenSize());
        m.put("hidden", c.intermediateSize());
        m.put("layers", c.numHiddenLayers());
        m.put("heads", c.numAttentionHeads());
        m.put("kvHeads", c.numKeyValueHeads());
        m.put("vocab", c.vocabSize());
        m.put("context", c.maxPositionEmbeddings());
        m.put("params", c.parameterCount());
        m.put("matmulParams", matmulParams(c));
        return m;
    }

    /** Parameters used in matmuls (every linear layer plus the LM head; not the embedding gather, not norms). */
    static long matmulParams(LlamaConfig c) {
        long d = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long perLayer = 2 * d * d + 2 * d * kv + 3 * d * c.intermediateSize();
        return c.numHiddenLayers() * perLayer + (long) c.vocabSize() * d;
    }

    /** {@code batch} packed rows of {@code seq} random tokens and targets (ids from 3: no pad/bos/eos), all counted. */
    static List<PackedSequence> randomRows(int batch, int seq, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<PackedSequence> rows = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int[] in = new int[seq];
            int[] tg = new int[seq];
            float[] mask = new float[seq];
            for (int j = 0; j < seq; j++) {
                in[j] = 3 + r.nextInt(vocab - 3);
                tg[j] = 3 + r.nextInt(vocab - 3);
                mask[j] = 1f;
            }
            rows.add(new PackedSequence(in, tg, mask));
        }
        return rows;
    }

    private static List<int[]> randomPrompts(int batch, int length, int vocab) {
        SplittableRandom r = new SplittableRandom(SEED);
        List<int[]> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int[] p = new int[length];
            for (int i = 0; i < length; i++) {
                p[i] = 3 + r.nextInt(vocab - 3); // skip pad/bos/eos
            }
            prompts.add(p);
        }
        return prompts;
    }

    private static void decode(LlamaModel model, int batch, Map<String, String> args, Map<String, Object> rec) {
        int promptLen = Integer.parseInt(args.getOrDefault("prompt", "16"));
        int newTokens = Integer.parseInt(args.getOrDefault("new-tokens", "240"));
        int warmup = Integer.parseInt(args.getOrDefault("warmup", "1"));
        int repeats = Integer.parseInt(args.getOrDefault("repeats", "3"));
        String engine = args.getOrDefault("engine", "djl");
        double temperature = Double.parseDouble(args.getOrDefault("temperature", "0"));
        java.util.Optional<SequenceDecoder> batchOne = switch (engine) {
            case "djl" -> java.util.Optional.empty();
            case "cpu" -> CpuDecoding.open(model, Integer.parseInt(args.getOrDefault("threads", "0")));
            default -> throw new IllegalArgumentException("--engine djl|cpu, got " + engine);
        };
        if (engine.equals("cpu") && batchOne.isEmpty()) {
            throw new IllegalStateException("--engine cpu: " + CpuDecoding.unavailableReason(model).orElse("?"));
        }
        Generator generator = new Generator(model, ids -> "", 0, batchOne.orElse(null));
        // --ids 1: every row's prompt is that one token (llama2.c's BOS-only start); else random prompts.
        List<int[]> prompts = args.containsKey("ids")
                ? java.util.Collections.nCopies(batch, new int[] {Integer.parseInt(args.get("ids"))})
                : randomPrompts(batch, promptLen, model.config().vocabSize());
        if (args.containsKey("ids")) {
            promptLen = 1;
        }
        // Temperature 1 with top-p 1 and no top-k samples the full distribution (llama2.c's -t 1 -p 1).
        SamplingParams params = temperature == 0 ? SamplingParams.greedy(newTokens)
                : new SamplingParams(1, newTokens, temperature, 1, 0, SEED, List.of());
        rec.put("engine", engine);
        for (int i = 0; i < warmup; i++) {
            generator.generate(prompts, params);
        }
        double[] modelRate = new double[repeats];
        double[] wallRate = new double[repeats];
        double[] msPerStep = new double[repeats];
        long generated = 0;
        long eos = 0;
        double[] foreign = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            BenchSupport.CpuSnapshot cpu = BenchSupport.CpuSnapshot.now();
            long start = System.nanoTime();
            Generator.Result result = generator.generate(prompts, params);
            long wall = System.nanoTime() - start;
            foreign[i] = BenchSupport.CpuSnapshot.now().foreignBusyPercent(cpu);
            generated = 0;
            eos = 0;
            for (List<Sample> samples : result.samples()) {
                for (Sample s : samples) {
                    generated += s.tokens().length;
                    eos += s.finishReason() == FinishReason.EOS ? 1 : 0;
                }
            }
            Generator.Stats st = result.stats();
            modelRate[i] = st.decodeTokensPerSecond();
            wallRate[i] = generated * 1e9 / wall;
            msPerStep[i] = st.decodeNanos() / 1e6 / Math.max(1, newTokens - 1);
        }
        rec.put("promptTokens", promptLen);
        rec.put("newTokens", newTokens);
        rec.put("sampling", temperature == 0 ? "greedy (temperature 0)" : "temperature " + temperature + ", top-p 1");
        rec.put("warmup", warmup);
        rec.put("repeats", repeats);
        rec.put("generatedTokens", generated);
        rec.put("rowsFinishedByEos", eos);
        putForeign(rec, foreign);
        rec.put("decodeTokPerSecRuns", BenchSupport.boxed(modelRate));
        rec.put("decodeTokPerSec", BenchSupport.median(modelRate));
        rec.put("msPerDecodeStep", BenchSupport.median(msPerStep));
        rec.put("generateWallTokPerSecRuns", BenchSupport.boxed(wallRate));
        rec.put("generateWallTokPerSec", BenchSupport.median(wallRate));
        rec.put("headline", BenchSupport.median(modelRate));
        rec.put("unit", "tok/s");
        batchOne.ifPresent(SequenceDecoder::close);
    }

    private static void prefill(LlamaModel model, int batch, int seq, Map<String, String> args,
                                Map<String, Object> rec) {
        int warmup = Integer.parseInt(args.getOrDefault("warmup", "2"));
        int repeats = Integer.parseInt(args.getOrDefault("repeats", "5"));
        Generator generator = new Generator(model, ids -> "", 0);
        List<int[]> prompts = randomPrompts(batch, seq, model.config().vocabSize());
        SamplingParams params = SamplingParams.greedy(1);
        for (int i = 0; i < warmup; i++) {
            generator.generate(prompts, params);
        }
        double[] rate = new double[repeats];
        double[] foreign = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            BenchSupport.CpuSnapshot cpu = BenchSupport.CpuSnapshot.now();
            rate[i] = generator.generate(prompts, params).stats().prefillTokensPerSecond();
            foreign[i] = BenchSupport.CpuSnapshot.now().foreignBusyPercent(cpu);
        }
        putForeign(rec, foreign);
        rec.put("promptTokens", seq);
        rec.put("warmup", warmup);
        rec.put("repeats", repeats);
        rec.put("prefillTokPerSecRuns", BenchSupport.boxed(rate));
        rec.put("prefillTokPerSec", BenchSupport.median(rate));
        rec.put("headline", BenchSupport.median(rate));
        rec.put("unit", "tok/s");
    }

    private static void train(LlamaModel model, int batch, int seq, Map<String, String> args,
                              Map<String, Object> rec) {
        int warmup = Integer.parseInt(args.getOrDefault("warmup", "2"));
        int repeats = Integer.parseInt(args.getOrDefault("repeats", "5"));
        List<List<PackedSequence>> step = List.of(randomRows(batch, seq, model.config().vocabSize(), SEED));
        double[] seconds = new double[repeats];
        double[] foreign = new double[repeats];
        double loss = Double.NaN;
        try (Trainer trainer = new Trainer(model, LearningRateSchedule.constant(1e-4))) {
            for (int i = 0; i < warmup; i++) {
                trainer.languageModelStep(step);
            }
            for (int i = 0; i < repeats; i++) {
                BenchSupport.CpuSnapshot cpu = BenchSupport.CpuSnapshot.now();
                long start = System.nanoTime();
                loss = trainer.languageModelStep(step).loss();
                seconds[i] = (System.nanoTime() - start) / 1e9;
                foreign[i] = BenchSupport.CpuSnapshot.now().foreignBusyPercent(cpu);
            }
        }
        double[] rate = Arrays.stream(seconds).map(s -> batch * (double) seq / s).toArray();
        long flopsPerStep = 6L * matmulParams(model.config()) * batch * seq;
        putForeign(rec, foreign);
        rec.put("seq", seq);
        rec.put("warmup", warmup);
        rec.put("repeats", repeats);
        rec.put("lastLoss", loss);
        rec.put("secondsPerStepRuns", BenchSupport.boxed(seconds));
        rec.put("secondsPerStep", BenchSupport.median(seconds));
        rec.put("trainTokPerSecRuns", BenchSupport.boxed(rate));
        rec.put("trainTokPerSec", BenchSupport.median(rate));
        rec.put("modelGflopPerSec", flopsPerStep / BenchSupport.median(seconds) / 1e9);
        rec.put("headline", BenchSupport.median(rate));
        rec.put("unit", "tok/s");
    }

    /**
     * Where batch-B decode time goes: (1) cost of one tiny op (a 1-element add and a (1, D) add) through DJL's
     * JNI; (2) NDArray handles created by one decode step (each is at least one JNI call); (3) the step's
     * matmuls alone (7 per layer + LM head) with no other op; (4) the full decode step.
     */
    private static void ops(LlamaModel model, int batch, Map<String, String> args, Map<String, Object> rec) {
        LlamaConfig c = model.config();
        NDManager wm = model.weights().manager();
        BenchSupport.CpuSnapshot cpu = BenchSupport.CpuSnapshot.now();
        int iters = Integer.parseInt(args.getOrDefault("iters", "100000"));
        try (NDManager m = wm.newSubManager()) {
            NDArray a1 = m.create(new float[] {1f});
            NDArray b1 = m.create(new float[] {2f});
            NDArray ad = m.ones(new Shape(1, 1, c.hiddenSize()));
            NDArray bd = m.ones(new Shape(1, 1, c.hiddenSize()));
            rec.put("nsPerTinyAdd", timeAdd(a1, b1, iters));
            rec.put("nsPerAddDim", timeAdd(ad, bd, iters));
            rec.put("nsPerTinyAddInNDScope", timeAddScoped(a1, b1, iters));
        }

        int prompt = 16;
        int steps = Integer.parseInt(args.getOrDefault("steps", "64"));
        int capacity = prompt + steps + 1;
        List<int[]> prompts = randomPrompts(batch, prompt, c.vocabSize());
        long[] tokens = new long[batch * prompt];
        long[] positions = new long[batch * prompt];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < prompt; j++) {
                tokens[b * prompt + j] = prompts.get(b)[j];
                positions[b * prompt + j] = j;
            }
        }
        int before = wm.getManagedArrays().size();
        int created = 0;
        long stepNanos = 0;
        long hiddenNanos = 0;
        long logitsNanos = 0;
        try (NDManager m = wm.newSubManager();
             KvCache cache = new KvCache(m, c, batch, capacity, model.weights().dataType())) {
            try (NDScope ignored = new NDScope()) {
                NDArray tok = m.create(tokens, new Shape(batch, prompt));
                NDArray pos = m.create(positions, new Shape(batch, prompt));
                NDArray mask = m.ones(new Shape(batch, prompt), DataType.INT32);
                model.logits(model.hidden(tok, pos, mask, cache).get(new NDIndex(":, -1:, :"))).toFloatArray();
            }
            int warm = 8;
            for (int s = 0; s < steps; s++) {
                long start = System.nanoTime();
                try (NDScope ignored = new NDScope()) {
                    long[] next = new long[batch];
                    Arrays.fill(next, 5);
                    long[] pos = new long[batch];
                    Arrays.fill(pos, prompt + s);
                    NDArray tok = m.create(next, new Shape(batch, 1));
                    NDArray p = m.create(pos, new Shape(batch, 1));
                    NDArray mask = m.ones(new Shape(batch, prompt + s + 1), DataType.INT32);
                    long h0 = System.nanoTime();
                    NDArray hidden = model.hidden(tok, p, mask, cache);
                    long h1 = System.nanoTime();
                    model.logits(hidden.get(new NDIndex(":, -1:, :"))).toFloatArray();
                    if (s >= warm) {
                        hiddenNanos += h1 - h0;
                        logitsNanos += System.nanoTime() - h1;
                    }
                    if (s == 0) {
                        created = wm.getManagedArrays().size() - before;
                    }
                }
                if (s >= warm) {
                    stepNanos += System.nanoTime() - start;
                }
            }
            stepNanos /= (steps - warm);
            hiddenNanos /= (steps - warm);
            logitsNanos /= (steps - warm);
        }
        // subtract the KV cache buffers (2 per layer), which live in the sub-manager but are not per-step
        rec.put("ndarraysPerDecodeStep", created - 2 * c.numHiddenLayers());
        rec.put("msPerDecodeStepDirect", stepNanos / 1e6);
        rec.put("msHiddenPerStep", hiddenNanos / 1e6); // embedding + blocks + final norm
        rec.put("msLogitsPerStep", logitsNanos / 1e6); // LM head + copy of the logits to Java

        long matmulNanos = matmulOnly(model, batch, 200);
        rec.put("msMatmulsOnlyPerStep", matmulNanos / 1e6);
        rec.put("matmulCallsPerStep", 7 * c.numHiddenLayers() + 1);
        putForeign(rec, new double[] {BenchSupport.CpuSnapshot.now().foreignBusyPercent(cpu)});
        rec.put("headline", stepNanos / 1e6);
        rec.put("unit", "ms/step");
    }

    /** CPU % taken by other processes during each timed run; the run script repeats a case when it is high. */
    private static void putForeign(Map<String, Object> rec, double[] foreign) {
        rec.put("foreignBusyPctRuns", BenchSupport.boxed(foreign));
        rec.put("maxForeignBusyPct", BenchSupport.max(foreign));
    }

    private static double timeAdd(NDArray a, NDArray b, int iters) {
        for (int i = 0; i < iters / 10; i++) {
            a.add(b).close();
        }
        long start = System.nanoTime();
        for (int i = 0; i < iters; i++) {
            a.add(b).close();
        }
        return (System.nanoTime() - start) / (double) iters;
    }

    private static double timeAddScoped(NDArray a, NDArray b, int iters) {
        long start = System.nanoTime();
        for (int i = 0; i < iters; i += 100) {
            try (NDScope ignored = new NDScope()) {
                for (int j = 0; j < 100; j++) {
                    a.add(b);
                }
            }
        }
        return (System.nanoTime() - start) / (double) iters;
    }

    /** Mean nanos of the decode step's linear layers alone: x (B, 1, D) through every weight matrix once. */
    private static long matmulOnly(LlamaModel model, int batch, int reps) {
        LlamaConfig c = model.config();
        LlamaWeights w = model.weights();
        try (NDManager m = w.manager().newSubManager()) {
            NDArray x = m.randomNormal(new Shape(batch, 1, c.hiddenSize()));
            NDArray xi = m.randomNormal(new Shape(batch, 1, c.intermediateSize()));
            String[] dIn = {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight"};
            long total = 0;
            for (int r = 0; r < reps + 10; r++) {
                long start = System.nanoTime();
                try (NDScope ignored = new NDScope()) {
                    for (int l = 0; l < c.numHiddenLayers(); l++) {
                        for (String name : dIn) {
                            Linear.linear(x, w.get(LlamaWeights.layer(l, name)));
                        }
                        Linear.linear(xi, w.get(LlamaWeights.layer(l, "mlp.down_proj.weight")));
                    }
                    Linear.linear(x, w.lmHead()).singletonOrThrow().toFloatArray();
                }
                if (r >= 10) {
                    total += System.nanoTime() - start;
                }
            }
            return total / reps;
        }
    }

    private static void printRow(Map<String, Object> rec) {
        System.out.printf(Locale.ROOT, "%-10s %-8s B=%-3s threads=%-2s %12.2f %-8s VmHWM=%6.0f MiB heapPeak=%6.0f MiB"
                        + " load=%s -> %s foreignCpu<=%.0f%%%n",
                rec.get("shape"), rec.get("case"), rec.get("batch"), rec.get("threads"),
                ((Number) rec.get("headline")).doubleValue(), rec.get("unit"),
                ((Number) rec.get("vmHwmKiB")).doubleValue() / 1024,
                ((Number) rec.get("heapPeakBytes")).doubleValue() / (1 << 20),
                rec.get("loadBefore"), rec.get("loadAfter"), ((Number) rec.get("maxForeignBusyPct")).doubleValue());
        for (Map.Entry<String, Object> e : rec.entrySet()) {
            String k = e.getKey();
            if (k.endsWith("PerSec") || k.startsWith("ms") || k.startsWith("ns") || k.equals("ndarraysPerDecodeStep")
                    || k.equals("generatedTokens") || k.equals("rowsFinishedByEos")) {
                System.out.printf(Locale.ROOT, "    %-28s %s%n", k, e.getValue());
            }
        }
    }
}
