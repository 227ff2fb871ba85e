package dev.rlhf.launcher.pipeline;

import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.vocabulary.RewardCombiner;
import dev.rlhf.world.GoldOracle;
import dev.rlhf.world.Task;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The paper's "maximum reward among N samples" curves (LLaMA 2 §3.2.3, Figures 7 and 8): for each temperature,
 * N samples per held-out prompt, and for each N the reward of the best of the first N samples by the combined
 * reward, averaged over prompts; also the gold helpfulness of that selected sample, which shows whether the
 * reward model's pick is really better.
 */
public final class BestOfNSweep {
    /** The temperatures of the paper's best-of-N figure (0.6 to 1.5). */
    public static final java.util.List<Double> TEMPERATURES = java.util.List.of(0.6, 0.8, 1.0, 1.2, 1.5);

    private BestOfNSweep() {}

    /** One point: temperature T, N samples, mean max combined reward, mean gold helpfulness of the pick. */
    public record Point(double temperature, int n, double maxReward, double goldOfBest) {}

    public static List<Point> run(LlamaModel policy, RewardModel rmH, RewardModel rmS, LlamaTokenizer tokenizer,
                                  List<Task> tasks, int maxN, List<Double> temperatures, int maxNewTokens, long seed) {
        RewardCombiner combiner = RewardCombiner.llama2();
        List<Point> out = new ArrayList<>();
        for (double t : temperatures) {
            List<GoldEvaluation.Graded> samples = GoldEvaluation.sample(policy, tokenizer, tasks, maxN, t,
                    maxNewTokens, seed);
            double[] combined = GoldEvaluation.combined(samples, rmH, rmS, combiner);
            for (int n = 1; n <= maxN; n *= 2) {
                double reward = 0;
                double gold = 0;
                for (int p = 0; p < tasks.size(); p++) {
                    int best = p * maxN;
                    for (int i = p * maxN; i < p * maxN + n; i++) {
                        if (combined[i] > combined[best]) {
                            best = i;
                        }
                    }
                    reward += combined[best];
                    gold += GoldOracle.helpfulness(samples.get(best).task(), samples.get(best).response());
                }
                out.add(new Point(t, n, reward / tasks.size(), gold / tasks.size()));
            }
        }
        return out;
    }

    public static void writeCsv(List<Point> points, Path csv) throws IOException {
        StringBuilder sb = new StringBuilder("temperature,n,max_reward,gold_helpfulness_of_best\n");
        for (Point p : points) {
            sb.append(String.format(Locale.ROOT, "%.2f,%d,%.6f,%.6f%n", p.temperature(), p.n(), p.maxReward(),
                    p.goldOfBest()));
        }
        Files.writeString(csv, sb.toString());
    }

    public static void writePng(List<Point> points, Path png) throws IOException {
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (Point p : points) {
            series.computeIfAbsent(String.format(Locale.ROOT, "T=%.1f", p.temperature()), k -> new ArrayList<>())
                    .add(new double[] {p.n(), p.maxReward()});
        }
        Charts.line("Max combined reward among N samples", "N (log scale)", "reward (sigmoid)", series, true, png);
    }
}
