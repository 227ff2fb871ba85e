package dev.rlhf.launcher.pipeline;

import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.world.PreferencePair;
import dev.rlhf.world.Rating;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** How well a reward model ranks labelled pairs it did not train on (LLaMA 2 Table 8 reports the same per rating). */
public final class RewardModelAccuracy {
    private RewardModelAccuracy() {}

    /** Accuracy (chosen scored above rejected) overall and per rating; unsafe-response recall for safety. */
    public record Accuracy(double overall, Map<Rating, Double> byRating, Map<Rating, Integer> counts,
                           double unsafeRecall, int unsafeResponses) {}

    /**
     * Held-out accuracy; for the safety model also the recall of unsafe responses, "flagged" when sigmoid(Rs) is
     * below {@code flagThreshold}.
     */
    public static Accuracy evaluate(RewardModel rm, List<PreferencePair> pairs, double flagThreshold) {
        double threshold = Math.log(flagThreshold / (1 - flagThreshold)); // on the raw (logit) scale
        Map<Rating, Integer> right = new EnumMap<>(Rating.class);
        Map<Rating, Integer> counts = new EnumMap<>(Rating.class);
        int correct = 0;
        int unsafe = 0;
        int flagged = 0;
        for (int start = 0; start < pairs.size(); start += 64) {
            List<PreferencePair> chunk = pairs.subList(start, Math.min(pairs.size(), start + 64));
            List<String> prompts = new ArrayList<>();
            List<String> responses = new ArrayList<>();
            chunk.forEach(p -> {
                prompts.add(p.prompt());
                responses.add(p.chosen());
            });
            chunk.forEach(p -> {
                prompts.add(p.prompt());
                responses.add(p.rejected());
            });
            double[] s = rm.score(prompts, responses).stream().mapToDouble(RewardModel.Score::raw).toArray();
            for (int i = 0; i < chunk.size(); i++) {
                PreferencePair p = chunk.get(i);
                boolean ok = s[i] > s[chunk.size() + i];
                correct += ok ? 1 : 0;
                counts.merge(p.rating(), 1, Integer::sum);
                right.merge(p.rating(), ok ? 1 : 0, Integer::sum);
                if (!p.chosenSafe()) {
                    unsafe++;
                    flagged += s[i] < threshold ? 1 : 0;
                }
                if (!p.rejectedSafe()) {
                    unsafe++;
                    flagged += s[chunk.size() + i] < threshold ? 1 : 0;
                }
            }
        }
        Map<Rating, Double> byRating = new EnumMap<>(Rating.class);
        counts.forEach((r, n) -> byRating.put(r, (double) right.get(r) / n));
        return new Accuracy(pairs.isEmpty() ? Double.NaN : (double) correct / pairs.size(), byRating, counts,
                unsafe == 0 ? Double.NaN : (double) flagged / unsafe, unsafe);
    }
}
