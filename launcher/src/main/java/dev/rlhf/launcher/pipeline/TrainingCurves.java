package dev.rlhf.launcher.pipeline;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.llama.train.ScalarLog;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The demo report's training plots, drawn from what the run wrote: the loss curves of pre-training, SFT and both
 * reward models (their {@link ScalarLog}s under {@code tensorboard/}), the mean reward of the best samples per
 * rejection-sampling iteration, and the distribution of the helpfulness reward model's score over each stage's
 * held-out samples (LLaMA 2's reward-distribution-shift figure).
 */
final class TrainingCurves {
    static final String LOSSES = "training-loss.png";
    static final String RS_REWARD = "rs-best-reward.png";
    static final String RM_SHIFT = "rm-score-shift.png";
    private static final int BINS = 10;

    private TrainingCurves() {}

    /** Writes whichever plots the run has the data for; returns their file names. */
    static List<String> write(Path runDir, List<String> stages) throws IOException {
        List<String> written = new ArrayList<>();
        Map<String, List<double[]>> losses = new LinkedHashMap<>();
        for (String name : List.of("pretrain", "sft", "reward-helpfulness", "reward-safety")) {
            List<double[]> loss = scalar(runDir.resolve("tensorboard").resolve(name).resolve(ScalarLog.JSONL),
                    "loss");
            if (!loss.isEmpty()) {
                // Each stage on its own share of training, 0 to 1, so that 15 SFT steps and 2500 pre-training steps
                // share one plot.
                double last = loss.get(loss.size() - 1)[0];
                List<double[]> scaled = new ArrayList<>();
                loss.forEach(p -> scaled.add(new double[] {p[0] / last, p[1]}));
                losses.put(name, scaled);
            }
        }
        if (!losses.isEmpty()) {
            Charts.line("Training loss per stage", "fraction of the stage's steps", "loss", losses, false,
                    runDir.resolve(LOSSES));
            written.add(LOSSES);
        }
        Map<Integer, double[]> perIteration = new TreeMap<>(); // iteration -> {sum, count}
        Path best = runDir.resolve("cluster").resolve("best-samples.jsonl");
        if (Files.isRegularFile(best)) {
            for (String line : Files.readAllLines(best, StandardCharsets.UTF_8)) {
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                String id = o.get("id").getAsString();
                int dash = id.indexOf('-');
                if (id.startsWith("rs") && dash > 2) {
                    double[] acc = perIteration.computeIfAbsent(Integer.parseInt(id.substring(2, dash)),
                            k -> new double[2]);
                    acc[0] += o.get("combined").getAsDouble();
                    acc[1]++;
                }
            }
        }
        if (!perIteration.isEmpty()) {
            List<double[]> points = new ArrayList<>();
            perIteration.forEach((it, acc) -> points.add(new double[] {it, acc[0] / acc[1]}));
            Charts.line("Rejection sampling: mean combined reward of the best samples", "iteration", "reward",
                    Map.of("best of N", points), false, runDir.resolve(RS_REWARD));
            written.add(RS_REWARD);
        }
        Map<String, List<double[]>> shift = new LinkedHashMap<>();
        for (String stage : stages) {
            double[] histogram = histogram(runDir.resolve("samples-" + stage + ".jsonl"), "rm_helpfulness");
            if (histogram != null) {
                List<double[]> points = new ArrayList<>();
                for (int b = 0; b < BINS; b++) {
                    points.add(new double[] {(b + 0.5) / BINS, histogram[b]});
                }
                shift.put(stage, points);
            }
        }
        if (!shift.isEmpty()) {
            Charts.line("Helpfulness reward-model score of held-out samples per stage", "sigmoid(Rh)",
                    "share of samples", shift, false, runDir.resolve(RM_SHIFT));
            written.add(RM_SHIFT);
        }
        return written;
    }

    /** (step, value) of {@code tag} in a scalars.jsonl, skipping lines without it; empty when there is no file. */
    static List<double[]> scalar(Path jsonl, String tag) throws IOException {
        List<double[]> out = new ArrayList<>();
        if (!Files.isRegularFile(jsonl)) {
            return out;
        }
        for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
            JsonObject o = JsonParser.parseString(line).getAsJsonObject();
            if (o.has(tag) && !o.get(tag).isJsonNull()) {
                out.add(new double[] {o.get("step").getAsDouble(), o.get(tag).getAsDouble()});
            }
        }
        return out;
    }

    /** Shares of the samples' {@code field} (in [0, 1]) in {@link #BINS} equal bins; null without samples. */
    static double[] histogram(Path samples, String field) throws IOException {
        if (!Files.isRegularFile(samples)) {
            return null;
        }
        double[] counts = new double[BINS];
        int n = 0;
        for (String line : Files.readAllLines(samples, StandardCharsets.UTF_8)) {
            JsonObject o = JsonParser.parseString(line).getAsJsonObject();
            if (o.has(field)) {
                double v = o.get(field).getAsDouble();
                counts[Math.min(BINS - 1, Math.max(0, (int) (v * BINS)))]++;
                n++;
            }
        }
        if (n == 0) {
            return null;
        }
        for (int b = 0; b < BINS; b++) {
            counts[b] /= n;
        }
        return counts;
    }
}
