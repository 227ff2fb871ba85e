package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import ai.djl.ndarray.NDManager;
import dev.rlhf.launcher.pipeline.RewardLearningStage;
import dev.rlhf.launcher.pipeline.RewardModelAccuracy;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.world.PreferencePair;
import dev.rlhf.world.Rating;
import dev.rlhf.world.WorldData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf train-rm}: a helpfulness or safety reward model from preference pairs (LLaMA 2 §3.2.2). */
@Command(name = "train-rm", mixinStandardHelpOptions = true,
        description = {"Trains a reward model: the SFT checkpoint with a scalar head, binary ranking loss with "
                + "margin -log sigmoid(r_chosen - r_rejected - m(rating)), 1 epoch, AdamW with warm-up 3%% of the "
                + "steps (at least 5) and cosine decay to 10%%.",
            "The learner is the trainer service's: the command starts the services on loopback with an embedded "
                + "broker, publishes the pairs to rlhf.preferences and keeps the version the reward service ends "
                + "up serving (the recipe's data mix when both kinds are present: the helpfulness model also takes "
                + "as many safety pairs, the safety model 10%% helpfulness pairs). Their work goes to <out>.work.",
            "Pairs: JSONL {prompt, chosen, rejected, rating, chosen_safe, rejected_safe} (HH-RLHF {chosen, rejected} "
                + "accepted). With --held-out, prints accuracy overall and per rating."})
final class TrainRmCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    AdapterOptions.Lora lora = new AdapterOptions.Lora();

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

    @Option(names = "--calibration", defaultValue = "0.1", description = "Safety model only: weight of the "
            + "safe/unsafe logistic term that anchors sigmoid(Rs) to P(safe) (default: ${DEFAULT-VALUE}; 0 = off).")
    double calibration;

    @Option(names = "--seq-len", defaultValue = "4096", description = "Longest exchange in tokens; longer ones keep "
            + "their end, where the score is read (default: ${DEFAULT-VALUE}, capped by the model's context).")
    int sequenceLength;

    @Option(names = "--seed", defaultValue = "0", description = "Order of the pairs in each epoch (default: "
            + "${DEFAULT-VALUE}).")
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
        if (!(calibration >= 0) || sequenceLength < 2 || batchSize < 1 || !(lr > 0) || !(epochs > 0)) {
            throw new IllegalArgumentException("--calibration must be >= 0, --seq-len >= 2, --batch-size >= 1, --lr "
                    + "and --epochs > 0");
        }
        Path work = Path.of(out + ".work");
        RewardLearningStage.Trained r = RewardLearningStage.run(work, sft, Map.of(k, out), train,
                new RewardLearningStage.Options(EnumSet.of(k), m, batchSize, lr, epochs, calibration, seed,
                        sequenceLength, device, Duration.ofHours(24)).withLora(lora.config()), msg -> { }).get(k);
        System.out.printf(Locale.ROOT, "train-rm: wrote %s after %d steps over %d pairs, final loss %.4f%n", out,
                r.steps(), r.pairs(), r.finalLoss());
        try (NDManager manager = NDManager.newBaseManager(Devices.resolve(device))) {
            if (heldOut != null) {
                List<PreferencePair> eval = WorldData.readPreferences(heldOut);
                try (GradMode.Restore ignored = GradMode.disabled();
                     RewardModel rm = RewardModel.load(k, 0, out, manager)) {
                    RewardModelAccuracy.Accuracy a = RewardModelAccuracy.evaluate(rm, eval, 0.5);
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
