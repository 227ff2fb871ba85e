package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import ai.djl.ndarray.NDManager;
import dev.rlhf.launcher.pipeline.RewardModelStage;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.world.PreferencePair;
import dev.rlhf.world.Rating;
import dev.rlhf.world.WorldData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf train-rm}: a helpfulness or safety reward model from preference pairs (LLaMA 2 §3.2.2). */
@Command(name = "train-rm", mixinStandardHelpOptions = true,
        description = {"Trains a reward model: the SFT checkpoint with a scalar head, binary ranking loss with "
                + "margin -log sigmoid(r_chosen - r_rejected - m(rating)), 1 epoch, AdamW with warm-up 3% of the "
                + "steps (at least 5) and cosine decay to 10%.",
            "Pairs: JSONL {prompt, chosen, rejected, rating, chosen_safe, rejected_safe} (HH-RLHF {chosen, rejected} "
                + "accepted). With --held-out, prints accuracy overall and per rating."})
final class TrainRmCommand implements Callable<Integer> {
    @Option(names = "--sft", required = true, description = "SFT checkpoint to start from (with tokenizer.json).")
    Path sft;

    @Option(names = "--pairs", required = true, description = "Training preference pairs (JSONL).")
    Path pairs;

    @Option(names = "--held-out", description = "Held-out pairs (JSONL) for the accuracy report.")
    Path heldOut;

    @Option(names = "--out", required = true, description = "Directory for the reward model (must not exist).")
    Path out;

    @Option(names = "--kind", defaultValue = "helpfulness", description = "helpfulness or safety "
            + "(default: ${DEFAULT-VALUE}); safety also trains the calibration term, see --calibration.")
    String kind;

    @Option(names = "--margin", defaultValue = "small", description = "none, small (1, 2/3, 1/3, 0) or large "
            + "(3, 2, 1, 0) per rating, Table 27 (default: ${DEFAULT-VALUE}).")
    String margin;

    @Option(names = "--lr", defaultValue = "" + Llama2Recipe.RM_LEARNING_RATE, description = "Peak learning rate (default: ${DEFAULT-VALUE}, "
            + "the recipe's for 7B-34B; tiny models need ~1e-3).")
    double lr;

    @Option(names = "--batch-size", defaultValue = "512", description = "Pairs per step (default: ${DEFAULT-VALUE}, "
            + "the recipe's 1024 rows).")
    int batchSize;

    @Option(names = "--epochs", defaultValue = "1", description = "Passes over the pairs (default: ${DEFAULT-VALUE}).")
    double epochs;

    @Option(names = "--calibration", description = "Weight of the safe/unsafe logistic term (default: 0.1 for "
            + "safety, 0 for helpfulness).")
    Double calibration;

    @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out)) {
            throw new IllegalArgumentException("output directory already exists: " + out);
        }
        RewardKind k = switch (kind.toLowerCase(Locale.ROOT)) {
            case "helpfulness" -> RewardKind.HELPFULNESS;
            case "safety" -> RewardKind.SAFETY;
            default -> throw new IllegalArgumentException("--kind must be helpfulness or safety, got " + kind);
        };
        RankingLoss.Margin m;
        try {
            m = RankingLoss.Margin.valueOf(margin.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--margin must be none, small or large, got " + margin);
        }
        List<PreferencePair> train = WorldData.readPreferences(pairs);
        if (train.isEmpty()) {
            throw new IllegalArgumentException(pairs + ": no preference pairs");
        }
        double cal = calibration != null ? calibration : k == RewardKind.SAFETY ? 0.1 : 0;
        try (NDManager manager = NDManager.newBaseManager(Devices.resolve(device))) {
            RewardModelStage.Result r = RewardModelStage.train(k, sft, out, train,
                    new RewardModelStage.Options(m, batchSize, lr, epochs, cal, seed), manager);
            System.out.printf(Locale.ROOT, "train-rm: wrote %s after %d steps over %d pairs, final loss %.4f%n", out,
                    r.steps(), r.pairs(), r.finalLoss());
            if (heldOut != null) {
                List<PreferencePair> eval = WorldData.readPreferences(heldOut);
                try (GradMode.Restore ignored = GradMode.disabled();
                     RewardModel rm = RewardModel.load(RewardKind.valueOf(k.name()), 0, out, manager)) {
                    RewardModelStage.Accuracy a = RewardModelStage.evaluate(rm, eval, 0.5);
                    System.out.printf(Locale.ROOT, "held-out accuracy %.3f over %d pairs%n", a.overall(), eval.size());
                    for (Rating rating : Rating.values()) {
                        if (a.counts().containsKey(rating)) {
                            System.out.printf(Locale.ROOT, "  %-28s %.3f (%d pairs)%n", rating.key(),
                                    a.byRating().get(rating), a.counts().get(rating));
                        }
                    }
                    if (a.unsafeResponses() > 0) {
                        System.out.printf(Locale.ROOT, "unsafe responses flagged (sigmoid < 0.5): %.3f of %d%n",
                                a.unsafeRecall(), a.unsafeResponses());
                    }
                }
            }
        }
        return 0;
    }
}
