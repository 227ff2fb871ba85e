package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input to the RL commands fails fast with exit code 1 and a one-line reason, before any model work. */
class RlCommandsTest {
    @TempDir
    Path tmp;

    @Test
    void demoRejectsUnknownSettings() {
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("demo", "--quick", "--runs", tmp.toString(), "--set",
                "pretrainStep=3");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("unknown demo setting(s) [pretrainStep]"), r.err());
    }

    @Test
    void demoResumeNeedsARunDirectory() {
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("demo", "--resume", tmp.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("is not a demo run directory"), r.err());
    }

    @Test
    void demoResumeRefusesOtherSeeds() throws Exception {
        Files.createDirectories(tmp.resolve("models"));
        Files.writeString(tmp.resolve("run.json"), "{\"configuration\":\"quick\",\"seed\":2,\"base_seed\":2,"
                + "\"split_seed\":0}\n");
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("demo", "--quick", "--seed", "1", "--resume", tmp.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("\"seed\":2") && r.err().contains("\"seed\":1")
                && r.err().contains("pass the same --seed"), r.err());
        assertEquals("{\"configuration\":\"quick\",\"seed\":2,\"base_seed\":2,\"split_seed\":0}\n",
                Files.readString(tmp.resolve("run.json")), "the record is left as it was");
    }

    @Test
    void trainRmValidatesKindAndMargin() throws Exception {
        Path pairs = Files.writeString(tmp.resolve("p.jsonl"), "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": "
                + "\"b\", \"rating\": \"better\"}\n");
        RlhfCommandTest.Run kind = RlhfCommandTest.rlhf("train-rm", "--sft", tmp.toString(), "--pairs",
                pairs.toString(), "--out", tmp.resolve("rm").toString(), "--kind", "honesty");
        assertEquals(1, kind.code());
        assertTrue(kind.err().contains("--kind must be helpfulness or safety, got honesty"), kind.err());
        RlhfCommandTest.Run margin = RlhfCommandTest.rlhf("train-rm", "--sft", tmp.toString(), "--pairs",
                pairs.toString(), "--out", tmp.resolve("rm").toString(), "--margin", "huge");
        assertEquals(1, margin.code());
        assertTrue(margin.err().contains("--margin must be none, small or large, got huge"), margin.err());
    }

    /**
     * train-rm runs the trainer service's learner: 12 helpfulness pairs at 4 per step make 3 steps, each published
     * on rlhf.reward-updates and served; the command keeps the last served version, whose scalar head has left zero.
     */
    @Test
    void trainRmLearnsThroughTheTrainerServiceAndKeepsTheServedVersion() throws Exception {
        Path sft = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("sft"), 1, false);
        Path pairs = twelvePairs(tmp.resolve("pairs.jsonl"));
        Path out = tmp.resolve("rm");
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("train-rm", "--sft", sft.toString(), "--pairs", pairs.toString(),
                "--out", out.toString(), "--batch-size", "4", "--lr", "1e-2", "--held-out", pairs.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("after 3 steps over 12 pairs"), r.out());
        com.google.gson.JsonObject meta = dev.rlhf.llama.io.Manifest.read(out).metadata();
        assertEquals(3, meta.get("version").getAsLong(), meta.toString());
        assertEquals(12, meta.get("pairs_trained").getAsLong(), meta.toString());
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
            var head = dev.rlhf.llama.checkpoint.LlamaCheckpoint.load(out, m,
                    dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead.REQUIRED)
                    .get(dev.rlhf.llama.model.LlamaWeights.SCORE_HEAD);
            assertTrue(head.abs().sum().getFloat() > 0, "the scalar head trained");
        }
        // Three steps at 1e-2 on the same contrast: the held-out report (here the training pairs) ranks them all.
        assertTrue(r.out().contains("held-out accuracy 1.000 over 12 pairs"), r.out());
    }

    /** train-rm --lora: the kept reward model is an adapter on the SFT model, scalar head inside, and it ranks. */
    @Test
    void trainRmWithLoraKeepsAnAdapterOnTheSftModel() throws Exception {
        Path sft = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("sft-lora"), 1, false);
        Path pairs = twelvePairs(tmp.resolve("pairs-lora.jsonl"));
        Path out = tmp.resolve("rm-lora");
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("train-rm", "--sft", sft.toString(), "--pairs", pairs.toString(),
                "--out", out.toString(), "--batch-size", "4", "--lr", "3e-2", "--held-out", pairs.toString(),
                "--lora", "r=4,alpha=8");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("after 3 steps over 12 pairs"), r.out());
        var parsed = dev.rlhf.llama.checkpoint.AdapterCheckpoint.read(out);
        assertTrue(parsed.scoreHead(), "the scalar head rides in the adapter");
        assertEquals(sft.toAbsolutePath().normalize().toString(), parsed.baseModel());
        assertTrue(r.out().contains("held-out accuracy 1.000 over 12 pairs"), r.out());
    }

    @Test
    void sweepValidatesNAndPromptsMustBeWorldPrompts() throws Exception {
        RlhfCommandTest.Run n = RlhfCommandTest.rlhf("rs", "sweep", "--policy", "x", "--rm-helpfulness", "y",
                "--rm-safety", "z", "--prompts", "p", "--out", tmp.toString(), "--max-n", "48");
        assertEquals(1, n.code());
        assertTrue(n.err().contains("--max-n must be a power of two in [1, 64], got 48"), n.err());
        Path prompts = Files.writeString(tmp.resolve("prompts.jsonl"), "{\"id\": \"a\", \"text\": \"Tell me a joke\"}\n");
        RlhfCommandTest.Run unknown = RlhfCommandTest.rlhf("rs", "sweep", "--policy", "x", "--rm-helpfulness", "y",
                "--rm-safety", "z", "--prompts", prompts.toString(), "--out", tmp.toString());
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("is not a prompt of the synthetic world"), unknown.err());
    }

    @Test
    void rsRunRefusesAPromptLongerThanThePolicysContextBeforeStartingTheServices() throws Exception {
        Path policy = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("policy"), 1, false);
        Path prompts = Files.writeString(tmp.resolve("long.jsonl"), "{\"id\": \"short\", \"text\": \"hi\"}\n"
                + "{\"id\": \"essay\", \"text\": \"" + "hello world ".repeat(300) + "\"}\n");
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("rs", "run", "--policy", policy.toString(), "--rm-helpfulness",
                policy.toString(), "--rm-safety", policy.toString(), "--prompts", prompts.toString(), "--work-dir",
                tmp.resolve("work").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("prompt essay is ") && r.err().contains("with --max-new-tokens 24 it needs ")
                && r.err().contains("positions, the policy has 256"), r.err());
        assertTrue(!Files.exists(tmp.resolve("work")), "nothing started");
    }

    @Test
    void ppoValidatesTheAlgorithmAndTheGroupSize() {
        RlhfCommandTest.Run r = ppo("--algorithm", "dpo");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--algorithm must be ppo, grpo or rloo, got dpo"), r.err());
        RlhfCommandTest.Run g = ppo("--algorithm", "grpo", "--batch-size", "8");
        assertEquals(1, g.code());
        assertTrue(g.err().contains("grpo compares the samples of a prompt: --samples-per-prompt must be at least 2"),
                g.err());
    }

    @Test
    void ppoValidatesTheKlEstimator() {
        RlhfCommandTest.Run r = ppo("--kl-estimator", "k9");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--kl-estimator must be k1, k2 or k3, got k9"), r.err());
    }

    /**
     * rlhf ppo end to end with the learner's options: 2 iterations of 4 responses, mini-batches of 2 and 2 epochs
     * make 4 gradient steps per version (8 by version 2); PPO-ptx adds a next-token loss on the demonstrations.
     */
    @Test
    void ppoRunsThroughTheServicesWithEpochsValueWarmUpAndPtx() throws Exception {
        Path policy = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("policy"), 1, false);
        Path rm = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("rm"), 2, true);
        Path prompts = Files.writeString(tmp.resolve("prompts.jsonl"), "{\"id\": \"a\", \"text\": \"What is 2 plus 3?\"}\n"
                + "{\"id\": \"b\", \"text\": \"hello world\"}\n");
        Path validation = Files.writeString(tmp.resolve("validation.jsonl"), "{\"id\": \"v\", \"text\": \"hi\"}\n");
        Path demos = Files.writeString(tmp.resolve("sft.jsonl"), "{\"prompt\": \"What is 2 plus 3?\", \"response\": "
                + "\"2 plus 3 is 5.\"}\n");
        Path out = tmp.resolve("ppo-out");
        RlhfCommandTest.Run r = RlhfCommandTest.rlhf("ppo", "--policy", policy.toString(), "--rm-helpfulness",
                rm.toString(), "--rm-safety", rm.toString(), "--prompts", prompts.toString(), "--validation",
                validation.toString(), "--out", out.toString(), "--iterations", "2", "--batch-size", "4",
                "--mini-batch-size", "2", "--epochs", "2", "--value-warmup-steps", "1", "--value-lr", "1e-3",
                "--lr", "1e-4", "--ptx-data", demos.toString(), "--ptx-per-step", "1", "--eval-every", "1",
                "--max-new-tokens", "6");
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("manifest.json")), r.out());
        Path v2 = Path.of(out + ".work").resolve("checkpoints/policy-v000002");
        dev.rlhf.llama.io.Manifest manifest = dev.rlhf.llama.io.Manifest.read(v2);
        assertEquals(8, manifest.step(), "2 iterations x 2 epochs x 2 mini-batches");
        assertTrue(manifest.metadata().get("ptx_loss").getAsDouble() > 0, manifest.metadata().toString());
        Path loraOut = tmp.resolve("ppo-lora");
        RlhfCommandTest.Run lora = RlhfCommandTest.rlhf("ppo", "--policy", policy.toString(), "--rm-helpfulness",
                rm.toString(), "--rm-safety", rm.toString(), "--prompts", prompts.toString(), "--validation",
                validation.toString(), "--out", loraOut.toString(), "--iterations", "2", "--batch-size", "4",
                "--mini-batch-size", "2", "--lr", "1e-3", "--eval-every", "1", "--max-new-tokens", "6",
                "--lora", "r=4");
        assertEquals(0, lora.code(), lora.err());
        Path loraV2 = Path.of(loraOut + ".work").resolve("checkpoints/policy-v000002");
        assertEquals(policy.toAbsolutePath().normalize().toString(),
                dev.rlhf.llama.checkpoint.AdapterCheckpoint.read(loraV2).baseModel(), "a version is an adapter");
        RlhfCommandTest.Run bad = ppo("--epochs", "0");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("--epochs and --ptx-per-step must be >= 1"), bad.err());
    }

    /** 12 helpfulness pairs with one contrast: a right sum chosen over a refusal. */
    private static Path twelvePairs(Path file) throws java.io.IOException {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            lines.append("{\"prompt\": \"What is 2 plus ").append(i).append("?\", \"chosen\": \"2 plus ").append(i)
                    .append(" is ").append(i + 2).append(".\", \"rejected\": \"I cannot help with that request.\", "
                    + "\"rating\": \"better\"}\n");
        }
        return Files.writeString(file, lines);
    }

    /** {@code rlhf ppo} with placeholder paths (the checks under test run before anything is read) and {@code extra}. */
    private RlhfCommandTest.Run ppo(String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("ppo", "--policy", "x", "--rm-helpfulness", "y",
                "--rm-safety", "z", "--prompts", "p", "--validation", "v", "--out", tmp.resolve("o").toString()));
        args.addAll(List.of(extra));
        return RlhfCommandTest.rlhf(args.toArray(String[]::new));
    }
}
