package dev.rlhf.launcher.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.launcher.ProgressBar;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.PpoRewards;
import dev.rlhf.llama.rl.PpoTrainer;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.TrainingExample;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.vocabulary.RewardCombiner;
import dev.rlhf.world.GoldOracle;
import dev.rlhf.world.Task;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The PPO stage (LLaMA 2 §3.2.3), in process: each iteration samples one response per prompt of a batch from
 * the current policy, scores it with both reward models, combines them the LLaMA 2 way
 * (Rc = Rs if safety-tagged or sigmoid(Rs) < 0.15, else Rh), takes the logit and whitens over the batch, and
 * runs {@link PpoTrainer#iterate}. Every {@code evalEvery} iterations the mean combined reward on validation prompts
 * (train-split prompts kept out of the PPO batches, never the held-out test prompts) decides early stopping; the
 * best-scoring weights are the stage's result.
 */
public final class PpoStage {
    private PpoStage() {}

    /**
     * @param ptxExamples demonstrations for PPO-ptx ({@link PpoTrainer#withPtx}; empty = off), {@code ptxPerStep} of
     *                    them packed into every gradient step, weighted by {@code ptxCoef}
     */
    public record Options(int iterations, int batchSize, PpoTrainer.Options ppo, double temperature,
                          int maxNewTokens, int evalEvery, int patience, long seed,
                          List<TrainingExample> ptxExamples, int ptxPerStep, double ptxCoef,
                          int sequenceLength, int samplesPerPrompt, Selection selection,
                          GoldEvaluation.Options goldValidation) {
        public Options {
            if (selection == Selection.GOLD && goldValidation == null) {
                throw new IllegalArgumentException("gold selection needs the validation sampling options");
            }
            if (samplesPerPrompt < 1 || batchSize % samplesPerPrompt != 0) {
                throw new IllegalArgumentException("PPO batch " + batchSize + " must be a multiple of the samples "
                        + "per prompt " + samplesPerPrompt);
            }
        }

        public Options(int iterations, int batchSize, PpoTrainer.Options ppo, double temperature, int maxNewTokens,
                       int evalEvery, int patience, long seed) {
            this(iterations, batchSize, ppo, temperature, maxNewTokens, evalEvery, patience, seed, List.of(), 0, 0,
                    0, 1, Selection.RM, null);
        }
    }

    /**
     * What early stopping and the choice of the kept iteration read on the validation prompts: the mean combined
     * reward of greedy answers (the reward models), or the gold oracles' mean helpfulness of sampled answers (the
     * issue allows "held-out gold/RM metrics"; the validation prompts are training-split prompts that PPO batches
     * never use, never the held-out test prompts).
     */
    public enum Selection { RM, GOLD }

    /**
     * One iteration's statistics, for the report's curves.
     * @param validationReward mean combined RM reward of greedy validation answers (null: not evaluated)
     * @param validationGold mean gold helpfulness of sampled validation answers (null: not evaluated or no gold
     *                       validation configured)
     */
    public record Iteration(int iteration, double meanReward, double meanRmCombined, double meanKl,
                            double policyLoss, double valueLoss, double clipFraction, Double validationReward,
                            Double validationGold) {}

    /** Both validation scores; gold is NaN without gold validation options. */
    record Validation(double rm, double gold) {
        double selected(Selection selection) {
            return selection == Selection.GOLD ? gold : rm;
        }
    }

    public record Result(Path model, List<Iteration> iterations, int bestIteration, boolean stoppedEarly) {}

    public static Result run(Path start, Path out, RewardModel rmHelpfulness, RewardModel rmSafety, List<Task> train,
                             List<Task> validation, Options o, NDManager parent) {
        RewardCombiner combiner = RewardCombiner.llama2();
        SplittableRandom random = new SplittableRandom(o.seed());
        try (NDManager manager = parent.newSubManager(); LlamaTokenizer tokenizer = LlamaTokenizer.load(start)) {
            LlamaModel policy = new LlamaModel(LlamaCheckpoint.load(start, manager, ScoreHead.ABSENT));
            LlamaModel reference = new LlamaModel(LlamaCheckpoint.load(start, manager, ScoreHead.ABSENT));
            List<Iteration> history = new ArrayList<>();
            Validation initial = validate(policy, rmHelpfulness, rmSafety, tokenizer, validation, combiner, o);
            double best = initial.selected(o.selection());
            Map<String, NDArray> bestWeights = snapshot(policy, manager);
            int bestIteration = 0;
            int sinceBest = 0;
            boolean stopped = false;
            try (PpoTrainer ppo = new PpoTrainer(policy, reference, o.ppo(), tokenizer.padId());
                 ProgressBar bar = new ProgressBar("ppo", o.iterations(), "iterations")) {
                if (!o.ptxExamples().isEmpty() && o.ptxPerStep() > 0 && o.ptxCoef() > 0) {
                    List<TrainingExample> demos = o.ptxExamples();
                    int k = o.ptxPerStep();
                    // Step s packs demos[(s * k + i) mod n]: every demonstration in turn, reproducibly.
                    ppo.withPtx(step -> {
                        List<TrainingExample> chosen = new ArrayList<>(k);
                        for (int i = 0; i < k; i++) {
                            chosen.add(demos.get((int) ((step * k + i) % demos.size())));
                        }
                        return Packing.pack(chosen, o.sequenceLength(), tokenizer.bosId(),
                                tokenizer.sepId(), tokenizer.eosId(), tokenizer.padId());
                    }, o.ptxCoef());
                }
                for (int it = 1; it <= o.iterations(); it++) {
                    List<Task> batch = new ArrayList<>();
                    for (int i = 0; i < o.batchSize() / o.samplesPerPrompt(); i++) {
                        batch.add(train.get(random.nextInt(train.size())));
                    }
                    // samplesPerPrompt consecutive responses per prompt (the groups of whitenWithinGroups)
                    List<GoldEvaluation.Graded> samples = GoldEvaluation.sample(policy, tokenizer, batch,
                            o.samplesPerPrompt(), o.temperature(), o.maxNewTokens(), o.seed() * 1_000_003L + it);
                    double[] combined = combined(samples, rmHelpfulness, rmSafety, combiner);
                    double[] logits = new double[combined.length];
                    for (int i = 0; i < combined.length; i++) {
                        logits[i] = PpoRewards.logit(combined[i]);
                    }
                    double[] whitened = PpoRewards.whitenWithinGroups(logits, o.samplesPerPrompt());
                    List<PpoTrainer.Rollout> rollouts = new ArrayList<>();
                    for (int i = 0; i < samples.size(); i++) {
                        int[] response = samples.get(i).responseIds();
                        if (response.length > 0) {
                            rollouts.add(new PpoTrainer.Rollout(samples.get(i).promptIds(), response, whitened[i]));
                        }
                    }
                    PpoTrainer.IterationStats s = ppo.iterate(rollouts);
                    Validation v = null;
                    Double validationScore = null;
                    if (it % o.evalEvery() == 0 || it == o.iterations()) {
                        v = validate(policy, rmHelpfulness, rmSafety, tokenizer, validation, combiner, o);
                        validationScore = v.selected(o.selection());
                        if (validationScore > best) {
                            best = validationScore;
                            bestIteration = it;
                            sinceBest = 0;
                            bestWeights.values().forEach(NDArray::close);
                            bestWeights = snapshot(policy, manager);
                        } else if (++sinceBest >= o.patience()) {
                            stopped = it < o.iterations();
                        }
                    }
                    history.add(new Iteration(it, s.meanReward(), GoldEvaluation.mean(combined), s.meanKl(),
                            s.policyLoss(), s.valueLoss(), s.clipFraction(), v == null ? null : v.rm(),
                            v == null || Double.isNaN(v.gold()) ? null : v.gold()));
                    bar.step(1, String.format(Locale.ROOT, "Rc %.3f KL %.3f |g| %.2f%s",
                            GoldEvaluation.mean(combined), s.meanKl(), s.gradNorm(), validationScore == null ? "" : String.format(Locale.ROOT, " val %.3f",
                                    validationScore)));
                    if (stopped) {
                        break;
                    }
                }
            }
            // The policy checkpoint: best weights, without the value head (the policy service serves LM weights).
            LlamaWeights w = policy.weights();
            w.remove(LlamaWeights.SCORE_HEAD);
            for (Map.Entry<String, NDArray> e : bestWeights.entrySet()) {
                if (w.has(e.getKey())) {
                    w.put(e.getKey(), e.getValue());
                }
            }
            JsonObject meta = new JsonObject();
            meta.addProperty("stage", "ppo");
            meta.addProperty("best_iteration", bestIteration);
            meta.addProperty("iterations_run", history.size());
            LlamaCheckpoint.save(w, out, SaveOptions.defaults(history.size()).withMetadata(meta)
                    .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(start, dir)));
            return new Result(out, history, bestIteration, stopped);
        }
    }

    private static Map<String, NDArray> snapshot(LlamaModel policy, NDManager manager) {
        Map<String, NDArray> copy = new java.util.LinkedHashMap<>();
        policy.weights().tensors().forEach((k, v) -> {
            NDArray c = v.duplicate();
            c.attach(manager);
            copy.put(k, c);
        });
        return copy;
    }

    /**
     * The validation scores: the mean combined reward (sigmoid scale) of greedy answers, and, when gold validation
     * options are given, the gold oracles' mean helpfulness of sampled answers ({@link Selection}).
     */
    static Validation validate(LlamaModel policy, RewardModel rmH, RewardModel rmS, LlamaTokenizer tokenizer,
                               List<Task> validation, RewardCombiner combiner, Options o) {
        List<GoldEvaluation.Graded> greedy = GoldEvaluation.sample(policy, tokenizer, validation, 1, 0,
                o.maxNewTokens(), 0);
        double rm = GoldEvaluation.mean(combined(greedy, rmH, rmS, combiner));
        double gold = Double.NaN;
        GoldEvaluation.Options g = o.goldValidation();
        if (g != null) {
            double sum = 0;
            List<GoldEvaluation.Graded> sampled = GoldEvaluation.sample(policy, tokenizer, validation,
                    g.samplesPerPrompt(), g.temperature(), g.maxNewTokens(), g.seed());
            for (GoldEvaluation.Graded x : sampled) {
                sum += GoldOracle.helpfulness(x.task(), x.response());
            }
            gold = sum / sampled.size();
        }
        return new Validation(rm, gold);
    }

    static double[] combined(List<GoldEvaluation.Graded> samples, RewardModel rmH, RewardModel rmS,
                             RewardCombiner combiner) {
        double[] h = GoldEvaluation.sigmoidScores(rmH, samples);
        double[] s = GoldEvaluation.sigmoidScores(rmS, samples);
        double[] c = new double[samples.size()];
        for (int i = 0; i < c.length; i++) {
            c[i] = combiner.combined(samples.get(i).task().safetyTagged(), h[i], s[i]);
        }
        return c;
    }
}
