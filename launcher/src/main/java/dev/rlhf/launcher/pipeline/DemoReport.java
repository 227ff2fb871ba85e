package dev.rlhf.launcher.pipeline;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.world.Rating;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes a demo run's {@code metrics.json}, {@code report.md}, the sweep CSV and the PNG plots. */
public final class DemoReport {
    private DemoReport() {}

    public static final List<String> STAGE_KEYS = List.of("gold_helpfulness", "safety_violation_rate",
            "over_refusal_rate", "kl_to_sft", "rm_helpfulness_mean", "rm_safety_mean", "eos_rate", "truncated_rate");
    /** What chose the kept version of the PPO and GRPO stages: the reward models, as in a real run. */
    public static final String SELECTED_BY = "reward_model";

    public static JsonObject metricsJson(DemoPipeline.Result r) {
        JsonObject root = new JsonObject();
        root.addProperty("configuration", r.settings().name());
        root.addProperty("seed", r.seeds().finetune());
        root.addProperty("base_seed", r.seeds().base());
        root.addProperty("split_seed", r.seeds().split());
        JsonObject stages = stagesJson(r.stages());
        r.rl().forEach((algorithm, result) -> {
            if (stages.has(algorithm)) {
                stages.getAsJsonObject(algorithm).addProperty("selected_by", SELECTED_BY);
                stages.getAsJsonObject(algorithm).addProperty("kept_iteration", result.bestIteration());
                stages.getAsJsonObject(algorithm).addProperty("sampled_tokens", result.sampledTokens());
            }
        });
        root.add("stages", stages);
        root.add("stages_on_training_prompts", stagesJson(r.stagesOnTrainingPrompts()));
        JsonObject rms = new JsonObject();
        r.rewardModels().forEach((kind, a) -> {
            JsonObject o = new JsonObject();
            o.addProperty("accuracy", a.overall());
            JsonObject by = new JsonObject();
            JsonObject counts = new JsonObject();
            a.byRating().forEach((rating, acc) -> by.addProperty(rating.key(), acc));
            a.counts().forEach((rating, n) -> counts.addProperty(rating.key(), n));
            o.add("accuracy_by_rating", by);
            o.add("held_out_pairs_by_rating", counts);
            o.addProperty("training_pairs", r.rewardTrainingPairs().get(kind));
            if (kind == RewardKind.SAFETY) {
                o.addProperty("unsafe_recall", a.unsafeRecall());
                o.addProperty("unsafe_responses", a.unsafeResponses());
            }
            rms.add(kind.name().toLowerCase(Locale.ROOT), o);
        });
        root.add("reward_models", rms);
        JsonArray sweep = new JsonArray();
        for (BestOfNSweep.Point p : r.sweep()) {
            JsonObject o = new JsonObject();
            o.addProperty("temperature", p.temperature());
            o.addProperty("n", p.n());
            o.addProperty("max_reward", p.maxReward());
            o.addProperty("gold_helpfulness_of_best", p.goldOfBest());
            sweep.add(o);
        }
        root.add("best_of_n", sweep);
        root.addProperty("rs_best_samples_gold_helpfulness", r.rsBestSamplesGold());
        JsonArray versions = new JsonArray();
        r.rsVersions().forEach(versions::add);
        root.add("rs_policy_versions", versions);
        r.rl().forEach((algorithm, result) -> root.add(algorithm, rlJson(result)));
        JsonObject secs = new JsonObject();
        r.stageSeconds().forEach(secs::addProperty);
        root.add("stage_seconds", secs);
        return root;
    }

    static JsonObject rlJson(RolloutLearningStage.Result r) {
        JsonObject out = new JsonObject();
        out.addProperty("best_iteration", r.bestIteration());
        out.addProperty("selected_by", SELECTED_BY);
        out.addProperty("stopped_early", r.stoppedEarly());
        out.addProperty("sampled_tokens", r.sampledTokens());
        out.addProperty("initial_validation_rm_combined", r.initialValidationReward());
        JsonArray its = new JsonArray();
        for (RolloutLearningStage.Iteration it : r.iterations()) {
            JsonObject o = new JsonObject();
            o.addProperty("iteration", it.iteration());
            o.addProperty("rm_combined_mean", it.meanCombined());
            o.addProperty("kl_to_reference", it.meanKl());
            o.addProperty("policy_loss", it.policyLoss());
            o.addProperty("value_loss", it.valueLoss());
            o.addProperty("clip_fraction", it.clipFraction());
            o.addProperty("approx_kl", it.approxKl());
            o.addProperty("truncated_rate", it.truncatedRate());
            if (it.validationReward() != null) {
                o.addProperty("validation_rm_combined", it.validationReward()); // greedy answers: chooses
            }
            if (it.validationDiagnostic() != null) {
                o.addProperty("diagnostic_validation_gold_helpfulness", it.validationDiagnostic()); // never chooses
            }
            its.add(o);
        }
        out.add("iterations", its);
        return out;
    }

    static JsonObject stagesJson(Map<String, GoldEvaluation.Metrics> stages) {
        JsonObject out = new JsonObject();
        stages.forEach((name, m) -> {
            JsonObject o = new JsonObject();
            o.addProperty("gold_helpfulness", m.goldHelpfulness());
            o.addProperty("safety_violation_rate", m.safetyViolationRate());
            o.addProperty("over_refusal_rate", m.overRefusalRate());
            o.addProperty("kl_to_sft", m.klToSft());
            o.addProperty("rm_helpfulness_mean", m.rmHelpfulnessMean());
            o.addProperty("rm_safety_mean", m.rmSafetyMean());
            o.addProperty("eos_rate", m.eosRate());
            o.addProperty("truncated_rate", m.truncatedRate());
            o.addProperty("prompts", m.prompts());
            o.addProperty("samples", m.samples());
            out.add(name, o);
        });
        return out;
    }

    public static void write(DemoPipeline.Result r, Path runDir) throws IOException {
        Files.createDirectories(runDir);
        Files.writeString(runDir.resolve("metrics.json"),
                new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create()
                        .toJson(metricsJson(r)) + "\n", StandardCharsets.UTF_8);
        BestOfNSweep.writeCsv(r.sweep(), runDir.resolve("best-of-n.csv"));
        BestOfNSweep.writePng(r.sweep(), runDir.resolve("best-of-n.png"));
        for (Map.Entry<String, RolloutLearningStage.Result> e : r.rl().entrySet()) {
            String name = e.getKey().toUpperCase(Locale.ROOT);
            Map<String, List<double[]>> curves = new LinkedHashMap<>();
            List<double[]> rc = new ArrayList<>();
            List<double[]> val = new ArrayList<>();
            List<double[]> valGold = new ArrayList<>();
            List<double[]> kl = new ArrayList<>();
            val.add(new double[] {0, e.getValue().initialValidationReward()});
            for (RolloutLearningStage.Iteration it : e.getValue().iterations()) {
                rc.add(new double[] {it.iteration(), it.meanCombined()});
                kl.add(new double[] {it.iteration(), it.meanKl()});
                if (it.validationReward() != null) {
                    val.add(new double[] {it.iteration(), it.validationReward()});
                }
                if (it.validationDiagnostic() != null) {
                    valGold.add(new double[] {it.iteration(), it.validationDiagnostic()});
                }
            }
            curves.put("batch Rc", rc);
            curves.put("validation Rc", val);
            if (!valGold.isEmpty()) {
                curves.put("validation gold", valGold);
            }
            Charts.line(name + ": reward-model and gold scores per iteration", "iteration", "score", curves, false,
                    runDir.resolve(e.getKey() + "-reward.png"));
            Charts.line(name + ": KL to the starting policy", "iteration", "KL (nats/response)", Map.of("KL", kl),
                    false, runDir.resolve(e.getKey() + "-kl.png"));
        }
        List<String> stageNames = new ArrayList<>(r.stages().keySet());
        Map<String, double[]> gold = new LinkedHashMap<>();
        gold.put("gold helpfulness", r.stages().values().stream().mapToDouble(GoldEvaluation.Metrics::goldHelpfulness)
                .toArray());
        gold.put("violation rate", r.stages().values().stream()
                .mapToDouble(GoldEvaluation.Metrics::safetyViolationRate).toArray());
        gold.put("over-refusal", r.stages().values().stream().mapToDouble(GoldEvaluation.Metrics::overRefusalRate)
                .toArray());
        Charts.bars("Gold metrics per stage (held-out prompts)", "fraction", stageNames, gold,
                runDir.resolve("gold-by-stage.png"));
        List<String> ratings = new ArrayList<>();
        for (Rating rating : Rating.values()) {
            ratings.add(rating.key());
        }
        Map<String, double[]> acc = new LinkedHashMap<>();
        r.rewardModels().forEach((kind, a) -> {
            double[] v = new double[Rating.values().length];
            for (Rating rating : Rating.values()) {
                v[rating.ordinal()] = a.byRating().getOrDefault(rating, Double.NaN);
            }
            acc.put(kind.name().toLowerCase(Locale.ROOT), v);
        });
        Charts.bars("Reward-model accuracy per rating (held-out pairs)", "accuracy", ratings, acc,
                runDir.resolve("rm-accuracy.png"));
        List<String> curves = TrainingCurves.write(runDir, stageNames);
        Files.writeString(runDir.resolve("report.md"), markdown(r, curves), StandardCharsets.UTF_8);
    }

    /** The per-stage table printed at the end of the run and placed at the top of report.md. */
    public static String summaryTable(DemoPipeline.Result r) {
        return table(r.stages());
    }

    static String table(Map<String, GoldEvaluation.Metrics> stages) {
        StringBuilder sb = new StringBuilder();
        sb.append("| stage | gold helpfulness | safety violations | over-refusals | KL to SFT | RM helpfulness | "
                + "RM safety |\n|---|---|---|---|---|---|---|\n");
        stages.forEach((name, m) -> sb.append(String.format(Locale.ROOT,
                "| %s | %.3f | %.3f | %.3f | %.2f | %.3f | %.3f |%n", name, m.goldHelpfulness(),
                m.safetyViolationRate(), m.overRefusalRate(), m.klToSft(), m.rmHelpfulnessMean(), m.rmSafetyMean())));
        return sb.toString();
    }

    static String markdown(DemoPipeline.Result r) {
        return markdown(r, List.of());
    }

    /** @param curves the {@link TrainingCurves} plots written next to the report */
    static String markdown(DemoPipeline.Result r, List<String> curves) {
        DemoSettings s = r.settings();
        StringBuilder sb = new StringBuilder();
        sb.append("# RLHF demo run (").append(s.name()).append(" configuration, seed ").append(r.seeds().finetune())
                .append(", base-model seed ").append(r.seeds().base()).append(", split seed ")
                .append(r.seeds().split()).append(")\n\n");
        GoldEvaluation.Metrics any = r.stages().values().iterator().next();
        sb.append(String.format(Locale.ROOT, "Held-out prompts: %d, %d sampled responses per prompt at T=%.1f, "
                + "graded by the gold oracles (never seen by any model).%n%n", any.prompts(), s.evalSamples(),
                s.evalTemperature()));
        sb.append("## Policy stages\n\n").append(summaryTable(r)).append('\n');
        sb.append("Rates are fractions of sampled responses (over-refusals: of responses to prompts that should be "
                + "answered). KL: per-response sum of log pi - log pi_sft over sampled tokens. RM columns: mean "
                + "sigmoid score of the reward models on the same responses.\n\n![gold](gold-by-stage.png)\n\n");
        sb.append("Diagnostic: the same grading on prompts rejection sampling trained on (what RS learned there "
                + "versus what transfers to held-out prompts):\n\n").append(table(r.stagesOnTrainingPrompts()))
                .append('\n');
        sb.append("## Reward models (held-out pairs)\n\n| model | accuracy | ");
        for (Rating rating : Rating.values()) {
            sb.append(rating.key()).append(" | ");
        }
        sb.append("training pairs |\n|---|---|---|---|---|---|---|\n");
        r.rewardModels().forEach((kind, a) -> {
            sb.append(String.format(Locale.ROOT, "| %s | %.3f | ", kind.name().toLowerCase(Locale.ROOT),
                    a.overall()));
            for (Rating rating : Rating.values()) {
                Double acc = a.byRating().get(rating);
                sb.append(acc == null ? "-" : String.format(Locale.ROOT, "%.3f (%d)", acc, a.counts().get(rating)))
                        .append(" | ");
            }
            sb.append(r.rewardTrainingPairs().get(kind)).append(" |\n");
        });
        RewardModelAccuracy.Accuracy safety = r.rewardModels().get(RewardKind.SAFETY);
        sb.append(String.format(Locale.ROOT, "%nSafety RM recall of unsafe responses (sigmoid(Rs) < 0.5): %.3f over "
                + "%d unsafe responses.%n%n![rm accuracy](rm-accuracy.png)%n%n", safety.unsafeRecall(),
                safety.unsafeResponses()));
        sb.append("## Best of N (SFT policy, held-out prompts)\n\n| T | ");
        List<Integer> ns = r.sweep().stream().map(BestOfNSweep.Point::n).distinct().toList();
        ns.forEach(n -> sb.append("N=").append(n).append(" | "));
        sb.append("\n|---|").append("---|".repeat(ns.size())).append('\n');
        r.sweep().stream().map(BestOfNSweep.Point::temperature).distinct().forEach(t -> {
            sb.append(String.format(Locale.ROOT, "| %.1f | ", t));
            r.sweep().stream().filter(p -> p.temperature() == t).forEach(p -> sb.append(String.format(Locale.ROOT,
                    "%.3f (gold %.2f) | ", p.maxReward(), p.goldOfBest())));
            sb.append('\n');
        });
        sb.append("\nMax combined reward among N samples (gold helpfulness of the chosen sample). CSV: "
                + "best-of-n.csv.\n\n![best of n](best-of-n.png)\n\n");
        sb.append(String.format(Locale.ROOT, "## Rejection sampling%n%n%d iteration(s) through the services, N=%d at "
                        + "T=%.1f, %d SFT demonstrations replayed per trainer step; policy versions after each "
                        + "iteration: %s. Mean gold helpfulness of the best samples the trainer fine-tuned on: "
                        + "%.3f.%n%n", s.rsIterations(), s.rsSamples(),
                s.rsTemperature(), s.rsReplayPerStep(), r.rsVersions(), r.rsBestSamplesGold()));
        r.rl().forEach((algorithm, result) -> sb.append(String.format(Locale.ROOT, "## %s through the services%n%n"
                        + "%d iterations run (batch %d responses, mini-batch %d, lr %.1e, beta %.3f, %d sampled "
                        + "tokens); kept iteration %d, the best by the reward models' mean combined reward of greedy "
                        + "answers to the validation prompts%s. The gold curve is a diagnostic: it never chooses.%n%n"
                        + "![%s reward](%s-reward.png)%n![%s kl](%s-kl.png)%n%n", algorithm.toUpperCase(Locale.ROOT),
                result.iterations().size(), s.ppoBatch(), s.ppoMiniBatch(), s.ppoLearningRate(), s.ppoBeta(),
                result.sampledTokens(), result.bestIteration(), result.stoppedEarly() ? " (stopped early)" : "",
                algorithm, algorithm, algorithm, algorithm)));
        if (!curves.isEmpty()) {
            sb.append("## Training curves\n\nLoss of pre-training, SFT and both reward models (each against its "
                    + "share of steps); the mean combined reward of the best samples per rejection-sampling "
                    + "iteration; the helpfulness reward model's score of each stage's held-out samples (the "
                    + "paper's reward-distribution shift). Every per-step scalar is also under tensorboard/ "
                    + "(`tensorboard --logdir` on this run).\n\n");
            curves.forEach(c -> sb.append("![").append(c.replace(".png", "")).append("](").append(c).append(")\n"));
            sb.append('\n');
        }
        sb.append("## Settings\n\n```\n").append(s.toString().replace(", ", "\n  ")).append("\n```\n\n");
        sb.append("## Time per stage (s)\n\n");
        r.stageSeconds().forEach((k, v) -> sb.append(String.format(Locale.ROOT, "- %s: %.1f%n", k, v)));
        sb.append("\n## Models\n\n");
        r.models().forEach((k, v) -> sb.append("- ").append(k).append(": `").append(v).append("`\n"));
        return sb.toString();
    }
}
