package dev.rlhf.launcher.pipeline;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import dev.rlhf.launcher.ProgressBar;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.llama.rl.RewardModelTraining;
import dev.rlhf.llama.rl.RewardModelTraining.TokenPair;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.world.PreferencePair;
import dev.rlhf.world.Rating;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Trains one reward model (LLaMA 2 §3.2.2): the SFT checkpoint with a fresh scalar head, binary ranking loss with
 * margin, one epoch, AdamW with warm-up (3% of the steps, at least 5) and cosine decay to 10%; then measures
 * accuracy on held-out pairs, overall and per rating.
 */
public final class RewardModelStage {
    private RewardModelStage() {}

    /**
     * @param calibrationWeight see {@link RewardModelTraining}; the pipeline uses it for the safety model only
     * @param unsafeWeight weight of unsafe responses in the calibration term relative to safe ones
     *                     ({@link RewardModelTraining}); 0 = balance the classes (n_safe / n_unsafe of the data)
     */
    public record Options(RankingLoss.Margin margin, int batchSize, double learningRate, double epochs,
                          double calibrationWeight, long seed, double unsafeWeight) {
        public Options(RankingLoss.Margin margin, int batchSize, double learningRate, double epochs,
                       double calibrationWeight, long seed) {
            this(margin, batchSize, learningRate, epochs, calibrationWeight, seed, 1.0);
        }
    }

    /** Accuracy (chosen scored above rejected) overall and per rating; unsafe-response recall for safety. */
    public record Accuracy(double overall, Map<Rating, Double> byRating, Map<Rating, Integer> counts,
                           double unsafeRecall, int unsafeResponses) {}

    public record Result(Path model, double finalLoss, int steps, int pairs) {}

    public static Result train(RewardKind kind, Path sft, Path out, List<PreferencePair> pairs, Options o,
                               NDManager parent) {
        try (NDManager manager = parent.newSubManager(); LlamaTokenizer tokenizer = LlamaTokenizer.load(sft)) {
            LlamaWeights weights = LlamaCheckpoint.load(sft, manager, ScoreHead.ABSENT);
            // Fresh regression head (§3.2.2: "the next-token head is replaced by a scalar regression head").
            weights.put(LlamaWeights.SCORE_HEAD, weights.manager().zeros(
                    new Shape(1, weights.config().hiddenSize()), weights.dataType()));
            LlamaModel model = new LlamaModel(weights);
            List<TokenPair> data = tokenize(pairs, tokenizer, o.margin());
            int steps = Math.max(1, (int) Math.ceil(data.size() * o.epochs() / o.batchSize()));
            LearningRateSchedule schedule = LearningRateSchedule.cosine(o.learningRate(),
                    LearningRateSchedule.rewardModelWarmup(steps), steps);
            double last = Double.NaN;
            double unsafeWeight = o.unsafeWeight() > 0 ? o.unsafeWeight()
                    : RewardModelTraining.balancedUnsafeWeight(data);
            String label = "rm-" + kind.name().toLowerCase(Locale.ROOT);
            try (Trainer trainer = new Trainer(model, schedule);
                 ProgressBar bar = new ProgressBar(label, steps, "steps")) {
                int cursor = 0;
                for (int s = 0; s < steps; s++) {
                    List<TokenPair> batch = new ArrayList<>();
                    for (int i = 0; i < o.batchSize(); i++) {
                        batch.add(data.get(cursor++ % data.size()));
                    }
                    last = trainer.step(List.of(batch), (m, b) -> RewardModelTraining.lossSum(m, b,
                            tokenizer.padId(), o.calibrationWeight(), unsafeWeight), batch.size()).loss();
                    bar.step(1, String.format(Locale.ROOT, "loss %.3f", last));
                }
            }
            JsonObject meta = new JsonObject();
            meta.addProperty("stage", label);
            meta.addProperty("margin", o.margin().name().toLowerCase(Locale.ROOT));
            meta.addProperty("pairs", data.size());
            meta.addProperty("final_loss", last);
            meta.addProperty("calibration_weight", o.calibrationWeight());
            meta.addProperty("unsafe_weight", unsafeWeight);
            LlamaCheckpoint.save(weights, out, SaveOptions.defaults(steps).withMetadata(meta)
                    .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(sft, dir)));
            return new Result(out, last, steps, data.size());
        }
    }


    static List<TokenPair> tokenize(List<PreferencePair> pairs, LlamaTokenizer tokenizer, RankingLoss.Margin margin) {
        List<TokenPair> out = new ArrayList<>(pairs.size());
        for (PreferencePair p : pairs) {
            out.add(new TokenPair(PromptFormat.exchange(tokenizer, p.prompt(), p.chosen()),
                    PromptFormat.exchange(tokenizer, p.prompt(), p.rejected()),
                    margin.of(RankingLoss.Rating.valueOf(p.rating().name())), p.chosenSafe(), p.rejectedSafe()));
        }
        return out;
    }

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
