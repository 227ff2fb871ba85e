package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rlhf command end to end in-process: real files, real model, real tokenizer. */
class RlhfCommandTest {
    @TempDir
    static Path tmp;
    static Path model;

    record Run(int code, String out, String err) {}

    static Run rlhf(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = RlhfCommand.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @BeforeAll
    static void createModel() throws Exception {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            lines.add("{\"prompt\": \"What is " + i + " plus 2?\", \"response\": \"It is " + (i + 2) + ".\"}");
        }
        Files.write(tmp.resolve("sft.jsonl"), lines);
        model = tmp.resolve("model");
        Run r = rlhf("init-model", "--config", "tiny", "--corpus", tmp.resolve("sft.jsonl").toString(),
                "--vocab-size", "300", "--out", model.toString());
        assertEquals(0, r.code(), r.err());
    }

    /** Every command's --help renders cleanly: a bare '%' in a description makes picocli print a WARN line. */
    /** import-model: what the services would refuse is refused; what they accept lands unchanged, with a manifest. */
    @Test
    void importModelCopiesACheckedCheckpointWithAManifest() throws Exception {
        Path source = tmp.resolve("hf-download");
        Files.createDirectories(source.resolve(".cache"));
        try (var files = Files.list(model)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                if (!f.getFileName().toString().equals("manifest.json")) {
                    Files.copy(f, source.resolve(f.getFileName()));
                }
            }
        }
        Files.writeString(source.resolve("README.md"), "model card\n");
        Files.writeString(source.resolve(".cache/lock"), "x");
        Path store = tmp.resolve("store/models/policy");
        Run r = rlhf("import-model", "--from", source.toString(), "--out", store.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("import-model: ") && r.out().contains("manifest sha256"), r.out());
        assertTrue(dev.rlhf.llama.io.AtomicDirectory.isComplete(store), "manifest written and every file verified");
        for (String f : new String[] {"config.json", "model.safetensors", "tokenizer.json", "README.md"}) {
            assertEquals(-1L, Files.mismatch(source.resolve(f), store.resolve(f)), f + " copied byte for byte");
        }
        assertTrue(!Files.exists(store.resolve(".cache")), "hidden entries are not copied");
        assertEquals(0, rlhf("generate", "--model", store.toString(), "--ids", "1,5", "--max-new-tokens", "2").code(),
                "the imported copy serves");

        Run again = rlhf("import-model", "--from", source.toString(), "--out", store.toString());
        assertEquals(1, again.code());
        assertTrue(again.err().contains("already exists") && again.err().contains("--replace"), again.err());
        Run reward = rlhf("import-model", "--from", source.toString(), "--out", tmp.resolve("rm").toString(),
                "--kind", "reward");
        assertEquals(1, reward.code(), "a policy has no score head");
        assertTrue(reward.err().contains("score.weight"), reward.err());
        assertTrue(!Files.exists(tmp.resolve("rm")), "nothing written for a refused model");
        Files.writeString(source.resolve("config.json"), Files.readString(source.resolve("config.json"))
                .replace("\"rms_norm_eps\"", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2.0}, "
                        + "\"rms_norm_eps\""));
        Run unknown = rlhf("import-model", "--from", source.toString(), "--out", tmp.resolve("p2").toString());
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("yarn"), unknown.err());
    }

    @Test
    void versionIsTheBuildsOwn() throws Exception {
        String pom = Files.readString(Path.of("pom.xml"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("<parent>.*?<version>([^<]+)</version>",
                java.util.regex.Pattern.DOTALL).matcher(pom);
        assertTrue(m.find(), "no parent version in launcher/pom.xml");
        Run r = rlhf("--version");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals("rlhf " + m.group(1), lines[0]);
        assertTrue(lines[1].matches("DJL \\d+\\.\\d+\\.\\d+, libtorch \\d+\\.\\d+\\.\\d+ \\(pytorch-native-\\w+\\)"),
                lines[1]);
        assertTrue(lines[2].startsWith("Java " + Runtime.version()), lines[2]);
        assertEquals(r.out(), rlhf("prompts", "send", "--version").out(), "a subcommand's is the same");
    }

    @Test
    void promptsSendReadsTheWorldsFormatFamilyIncludedAndNamesTheBadLine() throws Exception {
        Path good = Files.write(tmp.resolve("good.jsonl"), List.of(
                "{\"id\": \"a\", \"text\": \"What is 2 plus 2?\", \"family\": \"arithmetic\"}",
                "",
                "{\"prompt\": \"How do I pick a lock?\", \"safety_tagged\": true}"));
        List<dev.rlhf.proto.v1.Prompt> prompts = PromptsCommand.Send.read(good);
        assertEquals(List.of("a", "good.jsonl-3"), prompts.stream().map(dev.rlhf.proto.v1.Prompt::getId).toList());
        assertEquals(List.of("arithmetic", ""), prompts.stream().map(dev.rlhf.proto.v1.Prompt::getFamily).toList());
        assertEquals(List.of(false, true), prompts.stream().map(dev.rlhf.proto.v1.Prompt::getSafetyTagged).toList());
        assertEquals("good.jsonl", prompts.get(0).getSource());

        Path bad = Files.write(tmp.resolve("bad.jsonl"), List.of("{\"text\": \"ok\"}",
                "{\"text\": \"ok\", \"family\": 7}"));
        Run r = rlhf("prompts", "send", bad.toString(), "--kafka", "127.0.0.1:1");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().strip().endsWith(bad + ":2: field \"family\" must be a string"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void everyHelpRendersWithoutWarnings() {
        java.util.List<java.util.List<String>> paths = new java.util.ArrayList<>();
        collect(new picocli.CommandLine(new RlhfCommand()), new java.util.ArrayList<>(), paths);
        assertTrue(paths.size() > 15, "commands found: " + paths);
        for (java.util.List<String> path : paths) {
            java.util.List<String> args = new java.util.ArrayList<>(path);
            args.add("--help");
            Run r = rlhf(args.toArray(String[]::new));
            assertEquals(0, r.code(), path + ": " + r.err());
            assertTrue(!r.err().contains("WARN") && !r.out().contains("WARN"), path + ": " + r.err());
            assertTrue(r.out().contains("Usage: rlhf"), path + ": " + r.out());
        }
    }

    private static void collect(picocli.CommandLine cli, java.util.List<String> prefix,
                                java.util.List<java.util.List<String>> out) {
        out.add(prefix);
        cli.getSubcommands().forEach((name, sub) -> {
            if (!name.equals("help")) {
                java.util.List<String> path = new java.util.ArrayList<>(prefix);
                path.add(name);
                collect(sub, path, out);
            }
        });
    }

    @Test
    void initModelWritesAnHfDirectoryWithTokenizer() {
        assertTrue(Files.exists(model.resolve("config.json")));
        assertTrue(Files.exists(model.resolve("model.safetensors")));
        assertTrue(Files.exists(model.resolve("tokenizer.json")));
        assertTrue(Files.exists(model.resolve("manifest.json")));
    }

    @Test
    void generateJsonHasSamplesWithTokensLogprobsAndStats() {
        Run r = rlhf("generate", "--model", model.toString(), "--prompt", "What is 1 plus 2?", "--n", "3",
                "--max-new-tokens", "6", "--seed", "4", "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        JsonArray samples = o.getAsJsonArray("samples");
        assertEquals(3, samples.size());
        for (var s : samples) {
            JsonObject sample = s.getAsJsonObject();
            assertEquals(sample.getAsJsonArray("tokens").size(), sample.getAsJsonArray("logprobs").size());
            for (var lp : sample.getAsJsonArray("logprobs")) {
                assertTrue(lp.getAsDouble() <= 0);
            }
            assertTrue(List.of("eos", "length", "stop").contains(sample.get("finish_reason").getAsString()));
        }
        assertTrue(o.getAsJsonObject("stats").get("prefill_tokens_per_s").getAsDouble() > 0);
        // Same seed, same output.
        Run again = rlhf("generate", "--model", model.toString(), "--prompt", "What is 1 plus 2?", "--n", "3",
                "--max-new-tokens", "6", "--seed", "4", "--json");
        assertEquals(samples, JsonParser.parseString(again.out()).getAsJsonObject().getAsJsonArray("samples"));
    }

    @Test
    void logitsPrintsOneVocabRowPerPosition() throws Exception {
        Run r = rlhf("logits", "--model", model.toString(), "--ids", "1,5,9,2");
        assertEquals(0, r.code(), r.err());
        JsonArray rows = JsonParser.parseString(r.out()).getAsJsonObject().getAsJsonArray("logits");
        int vocab = JsonParser.parseString(Files.readString(model.resolve("config.json"))).getAsJsonObject()
                .get("vocab_size").getAsInt();
        assertEquals(4, rows.size());
        assertEquals(vocab, rows.get(0).getAsJsonArray().size());
        // Causal: the first row does not depend on later ids.
        Run other = rlhf("logits", "--model", model.toString(), "--ids", "1,7");
        JsonArray otherRows = JsonParser.parseString(other.out()).getAsJsonObject().getAsJsonArray("logits");
        JsonArray first = rows.get(0).getAsJsonArray();
        JsonArray firstOther = otherRows.get(0).getAsJsonArray();
        double maxDiff = 0;
        for (int v = 0; v < vocab; v++) {
            maxDiff = Math.max(maxDiff, Math.abs(first.get(v).getAsDouble() - firstOther.get(v).getAsDouble()));
        }
        assertTrue(maxDiff < 1e-5, "row 0 changed with later ids by " + maxDiff);
    }

    @Test
    void sftTrainsAndWritesAModelThatGenerates() {
        Path out = tmp.resolve("sft-out");
        Run r = rlhf("sft", "--model", model.toString(), "--data", tmp.resolve("sft.jsonl").toString(), "--out",
                out.toString(), "--steps", "3", "--batch-size", "4", "--seq-len", "32", "--lr", "1e-3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("after 3 steps"), r.out());
        assertEquals(0, rlhf("generate", "--model", out.toString(), "--prompt", "What is 3 plus 2?",
                "--max-new-tokens", "4").code());
    }

    @Test
    void sftWithLoraWritesAPeftAdapterThatLogitsGenerateAndMergeAgreeOn() throws Exception {
        Path adapter = tmp.resolve("sft-lora");
        Run r = rlhf("sft", "--model", model.toString(), "--data", tmp.resolve("sft.jsonl").toString(), "--out",
                adapter.toString(), "--steps", "4", "--batch-size", "4", "--seq-len", "32", "--lr", "3e-2",
                "--lora", "r=4,alpha=8,targets=q_proj,v_proj,down_proj");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("training the LoRA adapter only"), r.err());
        assertTrue(Files.exists(adapter.resolve("adapter_config.json")), "a PEFT directory");
        assertTrue(!Files.exists(adapter.resolve("model.safetensors")), "no copy of the base");

        double[] base = firstRow(rlhf("logits", "--model", model.toString(), "--ids", "1,7,9"));
        double[] alone = firstRow(rlhf("logits", "--model", adapter.toString(), "--ids", "1,7,9"));
        double[] withFlag = firstRow(rlhf("logits", "--model", model.toString(), "--adapter", adapter.toString(),
                "--ids", "1,7,9"));
        Path merged = tmp.resolve("merged");
        Run m = rlhf("merge-adapter", "--model", model.toString(), "--adapter", adapter.toString(), "--out",
                merged.toString());
        assertEquals(0, m.code(), m.err());
        assertTrue(Files.exists(merged.resolve("model.safetensors")) && Files.exists(merged.resolve("tokenizer.json")));
        double[] fromMerged = firstRow(rlhf("logits", "--model", merged.toString(), "--ids", "1,7,9"));
        double moved = 0;
        double mergeGap = 0;
        for (int v = 0; v < base.length; v++) {
            assertEquals(alone[v], withFlag[v], 0.0, "an adapter directory alone names its base");
            moved = Math.max(moved, Math.abs(alone[v] - base[v]));
            mergeGap = Math.max(mergeGap, Math.abs(alone[v] - fromMerged[v]));
        }
        assertTrue(moved > 1e-4, "training moved the adapter's logits: " + moved);
        assertTrue(mergeGap < 1e-4, "merged = adapted: " + mergeGap);
        assertEquals(0, rlhf("generate", "--model", model.toString(), "--adapter", adapter.toString(), "--prompt",
                "What is 3 plus 2?", "--max-new-tokens", "4").code());

        Run both = rlhf("sft", "--model", adapter.toString(), "--data", tmp.resolve("sft.jsonl").toString(), "--out",
                tmp.resolve("x2").toString(), "--steps", "1", "--batch-size", "4", "--seq-len", "32", "--lora", "r=2");
        assertEquals(1, both.code());
        assertTrue(both.err().contains("already carries one"), both.err());
        Run badSpec = rlhf("sft", "--model", model.toString(), "--data", tmp.resolve("sft.jsonl").toString(), "--out",
                tmp.resolve("x3").toString(), "--steps", "1", "--lora", "r=2,targets=lm_head");
        assertEquals(1, badSpec.code());
        assertTrue(badSpec.err().contains("lm_head"), badSpec.err());
        Path other = tmp.resolve("other-base");
        assertEquals(0, rlhf("init-model", "--config", "tiny", "--tokenizer", model.toString(), "--seed", "5",
                "--out", other.toString()).code());
        Run wrongBase = rlhf("logits", "--model", other.toString(), "--adapter", adapter.toString(), "--ids", "1");
        assertEquals(1, wrongBase.code());
        assertTrue(wrongBase.err().contains("another base model"), wrongBase.err());
    }

    private static double[] firstRow(Run r) {
        assertEquals(0, r.code(), r.err());
        JsonArray row = JsonParser.parseString(r.out()).getAsJsonObject().getAsJsonArray("logits").get(2)
                .getAsJsonArray();
        double[] out = new double[row.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = row.get(i).getAsDouble();
        }
        return out;
    }

    /** {@code rlhf score --remote} reaches a reward service over TLS with its token, and is refused without. */
    @Test
    void scoreRemoteSpeaksTlsWithABearerToken() throws Exception {
        var certs = dev.rlhf.platform.grpc.TestCertificates.create(tmp.resolve("tls"));
        Path token = Files.writeString(tmp.resolve("reward-token"), "rm-token");
        Path rm = dev.rlhf.llama.checkpoint.ModelFactory.tinyForTests(tmp.resolve("rm-remote"), 2, true);
        var config = new dev.rlhf.reward.config.RewardConfig(dev.rlhf.vocabulary.RewardKind.HELPFULNESS, "127.0.0.1",
                0, rm, 1, 64, 64, 64 << 20, "cpu", 0, false, "127.0.0.1:1", java.time.Duration.ofSeconds(5))
                .withSecurity(new dev.rlhf.platform.grpc.GrpcSecurity.Server(certs.serverCert, certs.serverKey, null,
                        token));
        try (var reward = dev.rlhf.reward.RewardMain.start(config, m -> { })) {
            String address = "127.0.0.1:" + reward.port();
            Run ok = rlhf("score", "--remote", address, "--tls-ca", certs.caCert.toString(), "--token-file",
                    token.toString(), "--prompt", "hi", "--response", "hello");
            assertEquals(0, ok.code(), ok.err());
            assertTrue(ok.out().contains("helpfulness reward model, version 1"), ok.out());
            Run noToken = rlhf("score", "--remote", address, "--tls-ca", certs.caCert.toString(), "--prompt", "hi",
                    "--response", "hello");
            assertEquals(1, noToken.code());
            assertTrue(noToken.err().contains("UNAUTHENTICATED"), noToken.err());
            assertEquals(1, noToken.err().strip().lines().count(), noToken.err());
        }
    }

    @Test
    void badInputExitsNonZeroWithOneLineReasons() {
        Run missing = rlhf("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("model directory not found"), missing.err());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());

        Run topP = rlhf("generate", "--model", model.toString(), "--prompt", "x", "--top-p", "0");
        assertEquals(1, topP.code());
        assertTrue(topP.err().contains("top_p must be in (0, 1], got 0.0"), topP.err());

        Run usage = rlhf("generate", "--prompt", "x");
        assertEquals(2, usage.code());
        assertTrue(usage.err().contains("--model"), usage.err());

        Run ids = rlhf("logits", "--model", model.toString(), "--ids", "1,99999");
        assertEquals(1, ids.code());
        assertTrue(ids.err().contains("99999"), ids.err());

        Run exists = rlhf("init-model", "--config", "tiny", "--out", model.toString());
        assertEquals(1, exists.code());
        assertTrue(exists.err().contains("already exists"), exists.err());

        Run badConfig = rlhf("init-model", "--config", "huge", "--out", tmp.resolve("x").toString());
        assertEquals(1, badConfig.code());
        assertTrue(badConfig.err().contains("unknown config 'huge'"), badConfig.err());
    }

    /** Every command that runs a model takes --device; a bad one is refused before any work, in one line. */
    @Test
    void theRlCommandsAndTheDemoTakeADeviceAndRefuseABadOneFirst() {
        Path runs = tmp.resolve("device-runs");
        List<List<String>> commands = List.of(
                List.of("demo", "--quick", "--runs", runs.toString()),
                List.of("rs", "run", "--policy", "p", "--rm-helpfulness", "h", "--rm-safety", "s", "--prompts", "x",
                        "--work-dir", tmp.resolve("device-rs").toString()),
                List.of("rs", "sweep", "--policy", "p", "--rm-helpfulness", "h", "--rm-safety", "s", "--prompts", "x",
                        "--out", tmp.resolve("device-sweep").toString()),
                List.of("ppo", "--policy", "p", "--rm-helpfulness", "h", "--rm-safety", "s", "--prompts", "x",
                        "--validation", "v", "--out", tmp.resolve("device-ppo").toString()));
        for (List<String> command : commands) {
            List<String> args = new ArrayList<>(command);
            args.addAll(List.of("--device", "tpu"));
            Run r = rlhf(args.toArray(String[]::new));
            assertEquals(1, r.code(), command + ": " + r.err());
            assertTrue(r.err().strip().endsWith("device must be cpu, gpu or auto, got 'tpu'"), command + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        assertTrue(!Files.exists(runs), "the demo made no run directory");
        for (String out : List.of("device-rs", "device-sweep", "device-ppo")) {
            assertTrue(!Files.exists(tmp.resolve(out)), out);
        }
    }
}
