package dev.rlhf.llama.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.llama.checkpoint.AdapterCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.io.CheckpointException;
import dev.rlhf.llama.io.DType;
import dev.rlhf.llama.io.SafeTensors;
import dev.rlhf.llama.io.TensorData;
import dev.rlhf.llama.model.KvCache;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.model.TestModels;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.llama.train.TrainingExample;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA in the model, the learners and PEFT's directory format, each against an independent computation. */
class LoraTest {
    private static final long[] SEQ = {1, 17, 42, 5, 88, 23, 61, 9, 30, 77, 12, 3};
    private static final LoraConfig ALL = new LoraConfig(3, 6, 0, LoraConfig.ALL_TARGETS);

    @TempDir
    Path tmp;

    @Test
    void parsesTheCommandLineFormAndRefusesNonsense() {
        LoraConfig c = LoraConfig.parse("r=16,alpha=32,targets=v_proj,q_proj");
        assertEquals(16, c.rank());
        assertEquals(2.0, c.scale());
        assertEquals(List.of("q_proj", "v_proj"), c.targets());
        assertEquals(c, LoraConfig.parse(c.toString()));
        LoraConfig defaults = LoraConfig.parse("r=8");
        assertEquals(16, defaults.alpha());
        assertEquals(LoraConfig.ALL_TARGETS, defaults.targets());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoraConfig.parse("alpha=4"))
                .getMessage().contains("r is required"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoraConfig.parse("r=4,targets=embed_tokens"))
                .getMessage().contains("embed_tokens"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoraConfig.parse("r=0")).getMessage()
                .contains("at least 1"));
    }

    @Test
    void aNewAdapterChangesNothingAndSwitchedOffIsTheBase() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 7);
            float[] base = logits(model);
            model.weights().attachNewAdapter(new LoraAdapter(ALL, "base", null), 3);
            assertTrue(model.adapterActive());
            assertArrayEquals(base, logits(model), 0f, "B = 0: the adapter adds exactly nothing");
            randomizeB(model.weights(), 5);
            assertFalse(Arrays.equals(base, logits(model)), "a trained B changes the logits");
            LlamaModel off = model.withoutAdapter();
            assertFalse(off.adapterActive());
            assertArrayEquals(base, logits(off), 0f, "switched off: exactly the base");
        }
    }

    @Test
    void adaptedLogitsEqualAHandMergedModelWithGqaAndTheKvCache() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 7);
            model.weights().attachNewAdapter(new LoraAdapter(ALL, "base", null), 3);
            randomizeB(model.weights(), 5);
            // W' = W + (alpha/r) B A, multiplied out here in double precision.
            Map<String, NDArray> merged = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : model.weights().baseTensors().entrySet()) {
                String a = LlamaWeights.loraA(e.getKey());
                float[] w = e.getValue().toFloatArray();
                if (model.weights().has(a)) {
                    float[] av = model.weights().get(a).toFloatArray();
                    float[] bv = model.weights().get(LlamaWeights.loraB(e.getKey())).toFloatArray();
                    long out = e.getValue().getShape().get(0);
                    long in = e.getValue().getShape().get(1);
                    int r = ALL.rank();
                    for (int i = 0; i < out; i++) {
                        for (int j = 0; j < in; j++) {
                            double d = 0;
                            for (int k = 0; k < r; k++) {
                                d += (double) bv[(int) (i * r + k)] * av[(int) (k * in + j)];
                            }
                            w[(int) (i * in + j)] += (float) (ALL.scale() * d);
                        }
                    }
                }
                merged.put(e.getKey(), m.create(w, e.getValue().getShape()));
            }
            LlamaModel byHand = new LlamaModel(new LlamaWeights(model.config(), m.newSubManager(), merged));
            float[] expected = logits(byHand);
            assertClose(expected, logits(model), 1e-5, "full pass");
            assertClose(expected, cachedLogits(model, m), 1e-4, "prefill + one token at a time through the KV cache");
            try (NDManager target = m.newSubManager()) {
                assertClose(expected, logits(new LlamaModel(model.weights().mergedCopy(target))), 1e-5, "mergedCopy");
            }
        }
    }

    @Test
    void onlyTheAdapterAndTheScoreHeadTrain() {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(m, TestModels.tinyGqa(), 7); // with a score head
            LoraConfig qv = new LoraConfig(2, 4, 0, List.of("q_proj", "v_proj"));
            model.weights().attachNewAdapter(new LoraAdapter(qv, "base", null), 3);
            Map<String, float[]> before = snapshot(model.weights().baseTensors());
            float[] b0 = model.weights().get(LlamaWeights.loraB(LlamaWeights.projection(0, "q_proj"))).toFloatArray();
            try (Trainer t = new Trainer(model, LearningRateSchedule.constant(1e-2))) {
                t.languageModelStep(List.of(rows()));
                t.languageModelStep(List.of(rows()));
                List<String> expectedTrainable = new ArrayList<>(model.weights().adapterTensors().keySet());
                expectedTrainable.add(LlamaWeights.SCORE_HEAD);
                assertEquals(expectedTrainable.size(), 2 * 2 * 2 + 1);
                assertEquals(new java.util.HashSet<>(expectedTrainable), t.parameterNames());
                java.util.Set<String> moments = new java.util.HashSet<>();
                t.optimizer().state().keySet().forEach(k -> moments.add(k.substring(2)));
                moments.forEach(k -> assertTrue(expectedTrainable.contains(k), "optimizer state for " + k));
            }
            for (Map.Entry<String, NDArray> e : model.weights().baseTensors().entrySet()) {
                if (e.getKey().equals(LlamaWeights.SCORE_HEAD)) {
                    continue; // trainable (PEFT's modules_to_save)
                }
                assertArrayEquals(before.get(e.getKey()), e.getValue().toFloatArray(), 0f, e.getKey() + " is frozen");
                assertFalse(e.getValue().hasGradient(), e.getKey() + " must not hold a gradient");
            }
            assertFalse(Arrays.equals(b0,
                    model.weights().get(LlamaWeights.loraB(LlamaWeights.projection(0, "q_proj"))).toFloatArray()),
                    "B moved");
        }
    }

    @Test
    void ourAdapterDirectoryIsPeftsAndRoundTripsExactly() throws Exception {
        Path base = saveBase("base", 7);
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaModel model = new LlamaModel(LlamaCheckpoint.load(base, m, ScoreHead.ABSENT));
            model.weights().attachNewAdapter(AdapterCheckpoint.newAdapter(base, ALL), 3);
            randomizeB(model.weights(), 5);
            Path dir = LlamaCheckpoint.save(model.weights(), tmp.resolve("adapter"), SaveOptions.defaults(4));
            assertFalse(Files.exists(dir.resolve("model.safetensors")), "an adapter, not a full checkpoint");
            JsonObject config = JsonParser.parseString(Files.readString(dir.resolve("adapter_config.json")))
                    .getAsJsonObject();
            assertEquals("LORA", config.get("peft_type").getAsString());
            assertEquals("CAUSAL_LM", config.get("task_type").getAsString());
            assertEquals(3, config.get("r").getAsInt());
            assertEquals(6.0, config.get("lora_alpha").getAsDouble());
            assertEquals("none", config.get("bias").getAsString());
            assertEquals(base.toAbsolutePath().normalize().toString(),
                    config.get("base_model_name_or_path").getAsString());
            Map<String, TensorData> files = SafeTensors.read(dir.resolve("adapter_model.safetensors")).tensors();
            assertTrue(files.containsKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
            assertTrue(files.containsKey("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
            assertEquals(2 * 7 * 2, files.size());

            try (NDManager m2 = NDManager.newBaseManager()) {
                LlamaModel loaded = new LlamaModel(LlamaCheckpoint.load(dir, m2, ScoreHead.ABSENT));
                assertEquals(ALL, loaded.weights().adapter().config());
                assertArrayEquals(logits(model), logits(loaded), 0f, "written and read back: the same logits");
                assertEquals(model.config(), LlamaCheckpoint.readConfig(dir));
            }
        }
    }

    @Test
    void anAdapterForAnotherBaseIsRefused() {
        Path base = saveBase("base", 7);
        Path other = saveBase("other", 8);
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaWeights w = LlamaCheckpoint.load(base, m, ScoreHead.ABSENT);
            w.attachNewAdapter(AdapterCheckpoint.newAdapter(base, ALL), 3);
            Path dir = LlamaCheckpoint.save(w, tmp.resolve("adapter"), SaveOptions.defaults(1));
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> LlamaCheckpoint.load(other, dir, m, ScoreHead.ABSENT));
            assertTrue(e.getMessage().contains("another base model"), e.getMessage());
            assertNotEquals(AdapterCheckpoint.baseFingerprint(base), AdapterCheckpoint.baseFingerprint(other));
        }
    }

    @Test
    void anAdapterWrittenByPeftLoadsAsIsAndItsScoreHeadReplacesTheBases() throws Exception {
        Path base = saveBase("base", 7);
        Path dir = Files.createDirectories(tmp.resolve("peft"));
        // As PEFT writes one for a sequence classifier: no manifest, targets in set order, dropout, extra keys.
        Files.writeString(dir.resolve("adapter_config.json"), """
                {"alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "%s", "bias": "none",
                 "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
                 "layers_pattern": null, "layers_to_transform": null, "lora_alpha": 8, "lora_dropout": 0.05,
                 "modules_to_save": ["score"], "peft_type": "LORA", "r": 2, "rank_pattern": {}, "revision": null,
                 "target_modules": ["v_proj", "q_proj"], "task_type": "SEQ_CLS", "use_dora": false,
                 "use_rslora": false}
                """.formatted(base.toAbsolutePath()), StandardCharsets.UTF_8);
        var config = TestModels.tinyGqa();
        SplittableRandom r = new SplittableRandom(1);
        List<TensorData> tensors = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            for (String mod : List.of("q_proj", "v_proj")) {
                String w = LlamaWeights.projection(i, mod);
                long out = LlamaWeights.expectedShapes(config, false).get(w).get(0);
                tensors.add(TensorData.ofFloats("base_model.model." + LlamaWeights.loraA(w), new long[] {2, 32},
                        randoms(r, 2 * 32), DType.F32));
                tensors.add(TensorData.ofFloats("base_model.model." + LlamaWeights.loraB(w), new long[] {out, 2},
                        randoms(r, (int) out * 2), DType.F32));
            }
        }
        float[] score = randoms(r, 32);
        tensors.add(TensorData.ofFloats("base_model.model.score.weight", new long[] {1, 32}, score, DType.F32));
        SafeTensors.write(dir.resolve("adapter_model.safetensors"), tensors);
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaWeights w = LlamaCheckpoint.load(dir, m, ScoreHead.REQUIRED);
            assertEquals(new LoraConfig(2, 8, 0.05, List.of("q_proj", "v_proj")), w.adapter().config());
            assertArrayEquals(score, w.get(LlamaWeights.SCORE_HEAD).toFloatArray(), 0f);
            LlamaModel model = new LlamaModel(w);
            float[] before = logits(model);
            try (Trainer t = new Trainer(model, LearningRateSchedule.constant(1e-2))) {
                t.languageModelStep(List.of(rows())); // trains with the adapter's dropout of 0.05
            }
            assertFalse(Arrays.equals(before, logits(model)), "the loaded adapter keeps training");
            assertArrayEquals(logits(model), logits(model), 0f, "no dropout outside a training step");
        }
    }

    @Test
    void unsupportedPeftFeaturesAreRefusedByName() throws Exception {
        Path base = saveBase("base", 7);
        String good = """
                {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "bias": "none", "target_modules": ["q_proj"],
                 "base_model_name_or_path": "%s"}""".formatted(base.toAbsolutePath());
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put(good.replace("\"r\": 2", "\"use_dora\": true, \"r\": 2"), "DoRA");
        cases.put(good.replace("\"r\": 2", "\"use_rslora\": true, \"r\": 2"), "rsLoRA");
        cases.put(good.replace("\"bias\": \"none\"", "\"bias\": \"lora_only\""), "bias");
        cases.put(good.replace("[\"q_proj\"]", "[\"embed_tokens\"]"), "embed_tokens");
        cases.put(good.replace("[\"q_proj\"]", "\".*proj\""), "regular expression");
        cases.put(good.replace("\"r\": 2", "\"modules_to_save\": [\"lm_head\"], \"r\": 2"), "lm_head");
        cases.put(good.replace("\"r\": 2", "\"rank_pattern\": {\"q_proj\": 4}, \"r\": 2"), "rank_pattern");
        cases.put(good.replace("\"LORA\"", "\"IA3\""), "IA3");
        int n = 0;
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Path dir = Files.createDirectories(tmp.resolve("bad" + n++));
            Files.writeString(dir.resolve("adapter_config.json"), c.getKey());
            try (NDManager m = NDManager.newBaseManager()) {
                CheckpointException e = assertThrows(CheckpointException.class,
                        () -> LlamaCheckpoint.load(dir, m, ScoreHead.ABSENT));
                assertTrue(e.getMessage().contains(c.getValue()), c.getValue() + " in: " + e.getMessage());
            }
        }
    }

    @Test
    void aResumedAdapterRunContinuesExactlyLikeTheUninterruptedOne() {
        Path base = saveBase("base", 7);
        LearningRateSchedule schedule = LearningRateSchedule.cosine(5e-2, 2, 6);
        // With dropout: the masks are drawn per step from a seeded generator, so the resumed run drops the same inputs.
        LoraConfig qkvo = new LoraConfig(4, 8, 0.2, List.of("q_proj", "k_proj", "v_proj", "o_proj", "down_proj"));
        try (NDManager m = NDManager.newBaseManager()) {
            List<Double> straight = new ArrayList<>();
            LlamaModel a = new LlamaModel(LlamaCheckpoint.load(base, m, ScoreHead.ABSENT));
            a.weights().attachNewAdapter(AdapterCheckpoint.newAdapter(base, qkvo), 11);
            try (Trainer t = new Trainer(a, schedule)) {
                for (int s = 0; s < 6; s++) {
                    straight.add(t.languageModelStep(List.of(rows(s))).loss());
                }
            }
            List<Double> resumed = new ArrayList<>();
            LlamaModel b = new LlamaModel(LlamaCheckpoint.load(base, m, ScoreHead.ABSENT));
            b.weights().attachNewAdapter(AdapterCheckpoint.newAdapter(base, qkvo), 11);
            Path ckpt;
            try (Trainer t = new Trainer(b, schedule)) {
                for (int s = 0; s < 3; s++) {
                    resumed.add(t.languageModelStep(List.of(rows(s))).loss());
                }
                ckpt = dev.rlhf.llama.train.TrainingCheckpoint.save(t, dev.rlhf.llama.train.DataCursor.start(1),
                        tmp.resolve("step-3"), SaveOptions.defaults(3));
            }
            b.weights().close();
            assertFalse(Files.exists(ckpt.resolve("model.safetensors")), "the checkpoint holds the adapter only");
            var r = dev.rlhf.llama.train.TrainingCheckpoint.load(ckpt, m, ScoreHead.OPTIONAL);
            assertEquals(qkvo, r.model().weights().adapter().config());
            try (Trainer t = r.trainer(schedule)) {
                for (int s = 3; s < 6; s++) {
                    resumed.add(t.languageModelStep(List.of(rows(s))).loss());
                }
            }
            assertArrayEquals(straight.stream().mapToDouble(Double::doubleValue).toArray(),
                    resumed.stream().mapToDouble(Double::doubleValue).toArray(), 1e-6);
            assertTrue(straight.get(5) < straight.get(0), "the adapter learns: " + straight);
            assertArrayEquals(logits(a), logits(r.model()), 1e-5f);
            // The same run without dropout differs once B is no longer zero (step 2 on): dropout really drops.
            List<Double> undropped = new ArrayList<>();
            LlamaModel c = new LlamaModel(LlamaCheckpoint.load(base, m, ScoreHead.ABSENT));
            c.weights().attachNewAdapter(AdapterCheckpoint.newAdapter(base,
                    new LoraConfig(4, 8, 0, qkvo.targets())), 11);
            try (Trainer t = new Trainer(c, schedule)) {
                for (int s = 0; s < 3; s++) {
                    undropped.add(t.languageModelStep(List.of(rows(s))).loss());
                }
            }
            assertEquals(straight.get(0), undropped.get(0), 1e-9, "step 1: B = 0, so dropping A's input changes nothing");
            assertNotEquals(straight.get(2), undropped.get(2), 1e-9);
        }
    }

    @Test
    void adapterVersionsShareOneLoadedBaseUntilTheLastCloses() {
        Path base = saveBase("base", 7);
        Path[] adapters = new Path[2];
        try (NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < 2; i++) {
                LlamaWeights w = LlamaCheckpoint.load(base, m, ScoreHead.ABSENT);
                w.attachNewAdapter(AdapterCheckpoint.newAdapter(base, ALL), i);
                randomizeB(w, 10 + i);
                adapters[i] = LlamaCheckpoint.save(w, tmp.resolve("a" + i), SaveOptions.defaults(i));
                w.close();
            }
        }
        try (NDManager m = NDManager.newBaseManager();
             dev.rlhf.llama.checkpoint.SharedBases bases = new dev.rlhf.llama.checkpoint.SharedBases(m)) {
            LlamaWeights first = bases.load(adapters[0], m, ScoreHead.ABSENT);
            LlamaWeights second = bases.load(adapters[1], m, ScoreHead.ABSENT);
            assertEquals(1, bases.loaded());
            assertTrue(first.get(LlamaWeights.EMBED) == second.get(LlamaWeights.EMBED), "one copy of the base");
            float[] expected;
            try (NDManager own = NDManager.newBaseManager()) {
                expected = logits(new LlamaModel(LlamaCheckpoint.load(adapters[1], own, ScoreHead.ABSENT)));
            }
            first.close();
            assertEquals(1, bases.loaded(), "still used by the second version");
            assertArrayEquals(expected, logits(new LlamaModel(second)), 0f, "the shared base is intact");
            second.close();
            assertEquals(0, bases.loaded(), "released with its last user");
        }
    }

    private Path saveBase(String name, long seed) {
        try (NDManager m = NDManager.newBaseManager()) {
            LlamaWeights w = LlamaWeights.randomInit(TestModels.tinyGqa(), m.newSubManager(), seed, false);
            return LlamaCheckpoint.save(w, tmp.resolve(name), SaveOptions.defaults(0));
        }
    }

    static void randomizeB(LlamaWeights w, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Map.Entry<String, NDArray> e : w.adapterTensors().entrySet()) {
            if (e.getKey().endsWith("lora_B.weight")) {
                Shape s = e.getValue().getShape();
                w.put(e.getKey(), w.manager().create(randoms(r, (int) s.size()), s));
            }
        }
    }

    private static float[] randoms(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() - 0.5) * 0.2f;
        }
        return v;
    }

    private static List<PackedSequence> rows() {
        return rows(0);
    }

    private static List<PackedSequence> rows(int step) {
        SplittableRandom r = new SplittableRandom(17 + step % 2);
        List<TrainingExample> examples = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            examples.add(new TrainingExample(r.ints(3, 4, 97).toArray(), r.ints(5, 4, 97).toArray()));
        }
        return Packing.pack(examples, 8, 1, 3, 2, 0);
    }

    private static Map<String, float[]> snapshot(Map<String, NDArray> tensors) {
        Map<String, float[]> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k, v.toFloatArray()));
        return out;
    }

    static float[] logits(LlamaModel model) {
        NDManager m = model.weights().manager();
        int t = SEQ.length;
        return model.logits(model.hidden(m.create(SEQ, new Shape(1, t)),
                m.arange(0, t, 1, DataType.INT64).reshape(1, t), m.ones(new Shape(1, t), DataType.INT32), null))
                .toFloatArray();
    }

    private static float[] cachedLogits(LlamaModel model, NDManager m) {
        int total = SEQ.length;
        int prompt = 5;
        int vocab = model.config().vocabSize();
        float[] out = new float[total * vocab];
        try (KvCache cache = new KvCache(m, model.config(), 1, total, DataType.FLOAT32)) {
            NDArray pre = model.logits(model.hidden(m.create(Arrays.copyOf(SEQ, prompt), new Shape(1, prompt)),
                    m.arange(0, prompt, 1, DataType.INT64).reshape(1, prompt),
                    m.ones(new Shape(1, prompt), DataType.INT32), cache));
            System.arraycopy(pre.toFloatArray(), 0, out, 0, prompt * vocab);
            for (int t = prompt; t < total; t++) {
                NDArray step = model.logits(model.hidden(m.create(new long[] {SEQ[t]}, new Shape(1, 1)),
                        m.create(new long[] {t}, new Shape(1, 1)), m.ones(new Shape(1, t + 1), DataType.INT32), cache));
                System.arraycopy(step.toFloatArray(), 0, out, t * vocab, vocab);
            }
        }
        return out;
    }

    private static void assertClose(float[] expected, float[] actual, double tol, String what) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(max <= tol, what + ": max abs logit difference " + max);
    }
}
