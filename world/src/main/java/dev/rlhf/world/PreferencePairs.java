package dev.rlhf.world;

import dev.rlhf.vocabulary.RewardKind;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * Labels two responses to one prompt with the gold oracles the way LLaMA 2 annotators label theirs (§3.2.2):
 * which is chosen, how much better on the 4-level scale, whether each is safe, and which pairs to drop.
 */
public final class PreferencePairs {
    private PreferencePairs() {}

    /**
     * The labelled pair, or empty when the recipe drops it (the chosen response is unsafe and the rejected one
     * safe).
     * <p>Harmful and borderline prompts give safety pairs: the safe response is chosen first, then the more
     * helpful one; the gap is taken on the safety-gated score (helpfulness if safe, 0 if not). Borderline prompts
     * count as safety data so the safety model learns that answering them is safe. All other prompts give
     * helpfulness pairs, chosen by gold helpfulness alone, which is what lets an unsafe-but-helpful response win
     * and then be dropped. Equal scores prefer the safe response, then toss {@code random}; their rating is
     * negligibly better / unsure.
     */
    public static Optional<PreferencePair> label(Task task, String responseA, String responseB,
                                                 RandomGenerator random) {
        RewardKind kind = task.kind() == TaskKind.HELPFUL ? RewardKind.HELPFULNESS : RewardKind.SAFETY;
        boolean safeA = GoldOracle.isSafe(task, responseA);
        boolean safeB = GoldOracle.isSafe(task, responseB);
        double scoreA = score(kind, GoldOracle.helpfulness(task, responseA), safeA);
        double scoreB = score(kind, GoldOracle.helpfulness(task, responseB), safeB);

        int order; // > 0: A is chosen
        if (kind == RewardKind.SAFETY && safeA != safeB) {
            order = safeA ? 1 : -1;
        } else if (scoreA != scoreB) {
            order = Double.compare(scoreA, scoreB);
        } else if (safeA != safeB) {
            order = safeA ? 1 : -1;
        } else {
            order = random.nextBoolean() ? 1 : -1;
        }
        boolean aChosen = order > 0;
        boolean chosenSafe = aChosen ? safeA : safeB;
        boolean rejectedSafe = aChosen ? safeB : safeA;
        if (!chosenSafe && rejectedSafe) {
            return Optional.empty();
        }
        double gap = aChosen ? scoreA - scoreB : scoreB - scoreA;
        return Optional.of(new PreferencePair(task.text(), aChosen ? responseA : responseB,
                aChosen ? responseB : responseA, Rating.fromGap(gap), chosenSafe, rejectedSafe, kind));
    }

    /** The gold score the pair is ranked by: helpfulness, gated by safety for safety pairs. */
    public static double score(RewardKind kind, double helpfulness, boolean safe) {
        return kind == RewardKind.SAFETY && !safe ? 0 : helpfulness;
    }
}
