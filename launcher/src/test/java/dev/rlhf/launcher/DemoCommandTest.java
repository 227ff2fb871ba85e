package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.launcher.pipeline.DemoPipeline;
import dev.rlhf.launcher.pipeline.DemoReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end: `rlhf demo --quick` runs every stage (the rejection-sampling stage through the embedded broker and
 * real services) and its gold-graded metrics show rejection sampling improving on SFT (issue 4's CI criterion).
 */
class DemoCommandTest {
    @TempDir
    Path tmp;

    @Test
    void quickDemoWritesTheReportAndRejectionSamplingBeatsSft() throws Exception {
        Path runs = tmp.resolve("runs");
        RlhfCommandTest.Run run = RlhfCommandTest.rlhf("demo", "--quick", "--runs", runs.toString());
        assertEquals(0, run.code(), run.err());
        Path latest = runs.resolve("latest");
        assertTrue(Files.isSymbolicLink(latest) && Files.isDirectory(latest), "runs/latest points to the run");
        JsonObject metrics = JsonParser.parseString(Files.readString(latest.resolve("metrics.json"))).getAsJsonObject();
        assertEquals(DemoPipeline.DEFAULT_SPLIT_SEED, metrics.get("split_seed").getAsLong(), "records the split");
        assertEquals(metrics.get("seed").getAsLong(), metrics.get("base_seed").getAsLong(), "base seed = --seed");
        JsonObject recorded = JsonParser.parseString(Files.readString(latest.resolve("run.json"))).getAsJsonObject();
        assertEquals(metrics.get("seed").getAsLong(), recorded.get("seed").getAsLong(), "--resume checks: " + recorded);
        JsonObject stages = metrics.getAsJsonObject("stages");
        for (String stage : List.of("sft", "rs", "ppo", "grpo")) {
            for (String key : DemoReport.STAGE_KEYS) {
                double v = stages.getAsJsonObject(stage).get(key).getAsDouble();
                assertTrue(Double.isFinite(v), stage + "." + key + " = " + v);
            }
        }
        for (String rm : List.of("helpfulness", "safety")) {
            JsonObject o = metrics.getAsJsonObject("reward_models").getAsJsonObject(rm);
            assertTrue(o.get("accuracy").getAsDouble() > 0.5, rm + " RM better than chance: " + o);
            assertTrue(o.getAsJsonObject("accuracy_by_rating").has("significantly_better"), o.toString());
        }
        double sft = stages.getAsJsonObject("sft").get("gold_helpfulness").getAsDouble();
        double rs = stages.getAsJsonObject("rs").get("gold_helpfulness").getAsDouble();
        assertTrue(rs > sft, "gold helpfulness after rejection sampling " + rs + " must beat SFT " + sft);
        assertTrue(run.out().contains("| rs |"), "prints the summary table: " + run.out());
        // PPO and GRPO (through the services) keep the version the reward models scored best on validation,
        // iteration 0 (the RS policy) included; the gold oracles are recorded as a diagnostic only.
        for (String algorithm : List.of("ppo", "grpo")) {
            JsonObject rl = metrics.getAsJsonObject(algorithm);
            int kept = rl.get("best_iteration").getAsInt();
            var iterations = rl.getAsJsonArray("iterations");
            assertTrue(kept >= 0 && kept <= iterations.size(), rl.toString());
            assertEquals("reward_model", stages.getAsJsonObject(algorithm).get("selected_by").getAsString());
            assertTrue(rl.get("sampled_tokens").getAsLong() > 0, rl.toString());
            assertTrue(iterations.asList().stream().anyMatch(i -> i.getAsJsonObject()
                    .has("diagnostic_validation_gold_helpfulness")), "gold recorded as a diagnostic: " + rl);
            double eos = stages.getAsJsonObject(algorithm).get("eos_rate").getAsDouble();
            double truncated = stages.getAsJsonObject(algorithm).get("truncated_rate").getAsDouble();
            assertTrue(eos >= 0 && truncated >= 0 && eos + truncated <= 1 + 1e-9, algorithm + ": " + eos + ", "
                    + truncated);
        }
        String report = Files.readString(latest.resolve("report.md"));
        assertTrue(report.contains("| sft |") && report.contains("Reward models"), report);
        for (String png : List.of("best-of-n.png", "ppo-reward.png", "ppo-kl.png", "grpo-reward.png",
                "grpo-kl.png", "gold-by-stage.png", "rm-accuracy.png", "training-loss.png", "rs-best-reward.png",
                "rm-score-shift.png")) {
            assertTrue(ImageIO.read(latest.resolve(png).toFile()).getWidth() > 0, png);
        }
        assertTrue(Files.readAllLines(latest.resolve("best-of-n.csv")).size() > 1, "sweep CSV has rows");
        assertTrue(Files.size(latest.resolve("cluster/best-samples.jsonl")) > 0, "RS training data exported");
    }
}
