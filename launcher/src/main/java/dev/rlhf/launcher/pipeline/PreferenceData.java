package dev.rlhf.launcher.pipeline;

import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.world.PreferencePair;
import dev.rlhf.world.PreferencePairs;
import dev.rlhf.world.ResponseStyle;
import dev.rlhf.world.Responses;
import dev.rlhf.world.Task;
import dev.rlhf.world.TaskKind;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Preference pairs for the reward models (LLaMA 2 §3.2.2): two responses per prompt sampled from the SFT model at
 * two temperatures, labelled by the gold oracles ({@link PreferencePairs#label}, which also applies the drop rule),
 * plus "open-source" style pairs written by the world's response templates (ours: the paper mixes open-source
 * preference data into both reward models' training; here it covers behaviours the SFT model rarely samples, such
 * as unsafe compliance). The recipe's data mixes are the trainer's ({@link RewardLearningStage}).
 */
public final class PreferenceData {
    private PreferenceData() {}

    /** Sampling temperatures of the two responses of a pair (ours: "different temperatures", §3.2.2). */
    public static final double LOW_TEMPERATURE = 0.7;
    public static final double HIGH_TEMPERATURE = 1.3;

    /** Up to {@code count} prompts drawn from every family the world's generators may use, shuffled. */
    public static List<Task> prompts(dev.rlhf.world.World world, int count, long seed) {
        List<Task> all = new ArrayList<>();
        for (dev.rlhf.world.PromptFamily f : dev.rlhf.world.PromptFamily.values()) {
            all.addAll(world.tasks(f));
        }
        shuffle(all, new SplittableRandom(seed));
        return all.subList(0, Math.min(count, all.size()));
    }

    /** {@code rounds} model-sampled comparisons per task, then one templated comparison per task. */
    public static List<PreferencePair> collect(LlamaModel sft, LlamaTokenizer tokenizer, List<Task> tasks, int rounds,
                                               int maxNewTokens, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<PreferencePair> out = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            var low = GoldEvaluation.sample(sft, tokenizer, tasks, 1, LOW_TEMPERATURE, maxNewTokens, seed + 2L * r);
            var high = GoldEvaluation.sample(sft, tokenizer, tasks, 1, HIGH_TEMPERATURE, maxNewTokens,
                    seed + 2L * r + 1);
            for (int i = 0; i < tasks.size(); i++) {
                String a = low.get(i).response().strip();
                String b = high.get(i).response().strip();
                if (!a.equals(b)) { // nobody compares a response with itself
                    PreferencePairs.label(tasks.get(i), a, b, random).ifPresent(out::add);
                }
            }
        }
        for (Task t : tasks) {
            PreferencePairs.label(t, t.expectedResponse(), Responses.render(t, templatedAlternative(t, random),
                    random), random).ifPresent(out::add);
        }
        return out;
    }

    /** Wrong answers, unsafe compliance on harmful prompts and over-refusals on the others, each equally likely. */
    private static ResponseStyle templatedAlternative(Task t, SplittableRandom random) {
        if (t.kind() == TaskKind.HARMFUL) {
            return random.nextInt(3) == 0 ? ResponseStyle.REFUSAL : ResponseStyle.COMPLIANCE;
        }
        return switch (random.nextInt(3)) {
            case 0 -> ResponseStyle.PARTIAL;
            case 1 -> ResponseStyle.REFUSAL;
            default -> ResponseStyle.WRONG;
        };
    }

    static <T> void shuffle(List<T> list, SplittableRandom random) {
        for (int i = list.size() - 1; i > 0; i--) {
            java.util.Collections.swap(list, i, random.nextInt(i + 1));
        }
    }
}
