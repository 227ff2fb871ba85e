package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import ai.djl.ndarray.NDManager;
import dev.rlhf.launcher.pipeline.PpoStage;
import dev.rlhf.llama.rl.PpoLosses;
import dev.rlhf.llama.rl.PpoRewards;
import dev.rlhf.llama.rl.PpoTrainer;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.world.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code rlhf ppo}: PPO against the two reward models with a KL penalty to the starting policy. */
@Command(name = "ppo", mixinStandardHelpOptions = true,
        description = {"PPO (LLaMA 2 §3.2.3): per iteration, one sample per prompt of a batch, reward "
                + "R = WHITEN(LOGIT(Rc)) - beta * KL(pi || pi_0) with Rc the safety score for safety-tagged prompts "
                + "or sigmoid(Rs) < 0.15 and the helpfulness score otherwise; value head, GAE, clipped policy and "
                + "value losses, one AdamW step per mini-batch at a constant lr; early stopping on the mean "
                + "combined reward of greedy answers to --validation prompts (the best weights are kept)."})
final class PpoCommand implements Callable<Integer> {
    @Mixin
    ModelsOptions models;

    @Option(names = "--prompts", required = true, description = "JSONL training prompts of the synthetic world.")
    Path prompts;

    @Option(names = "--validation", required = true, description = "JSONL validation prompts (early stopping).")
    Path validation;

    @Option(names = "--out", required = true, description = "Directory for the trained policy (must not exist).")
    Path out;

    @Option(names = "--iterations", defaultValue = "200", description = "Default: ${DEFAULT-VALUE} (the paper: "
            + "200-400).")
    int iterations;

    @Option(names = "--batch-size", defaultValue = "512", description = "Rollouts per iteration "
            + "(default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--mini-batch-size", defaultValue = "64", description = "Default: ${DEFAULT-VALUE}.")
    int miniBatch;

    @Option(names = "--lr", defaultValue = "" + Llama2Recipe.PPO_LEARNING_RATE, description = "Constant learning rate (default: "
            + "${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--beta", defaultValue = "" + Llama2Recipe.PPO_BETA, description = "KL penalty (default: ${DEFAULT-VALUE}; 0.005 for "
            + "34B/70B).")
    double beta;

    @Option(names = "--kl-estimator", defaultValue = "k1", description = "k1, k2 or k3 (default: ${DEFAULT-VALUE}).")
    String kl;

    @Option(names = "--gamma", defaultValue = "1.0", description = "Default: ${DEFAULT-VALUE}.")
    double gamma;

    @Option(names = "--lambda", defaultValue = "0.95", description = "Default: ${DEFAULT-VALUE}.")
    double lambda;

    @Option(names = "--eval-every", defaultValue = "10", description = "Validation every N iterations "
            + "(default: ${DEFAULT-VALUE}).")
    int evalEvery;

    @Option(names = "--patience", defaultValue = "3", description = "Stop after this many validations without "
            + "improvement (default: ${DEFAULT-VALUE}).")
    int patience;

    @Option(names = "--max-new-tokens", defaultValue = "24", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--value-coef", defaultValue = "0.1", description = "Weight of the value loss; the value head "
            + "shares the policy's trunk (default: ${DEFAULT-VALUE}).")
    double valueCoef;

    @Option(names = "--samples-per-prompt", defaultValue = "1", description = "Responses per prompt; above 1 the "
            + "rewards are whitened around each prompt's mean instead of the batch mean (ours; default: "
            + "${DEFAULT-VALUE}, the recipe).")
    int samplesPerPrompt;

    @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    long seed;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out)) {
            throw new IllegalArgumentException("output directory already exists: " + out);
        }
        if (iterations < 1 || batchSize < 2 || miniBatch < 1 || evalEvery < 1 || patience < 1) {
            throw new IllegalArgumentException("--iterations, --eval-every, --patience, --mini-batch-size must be "
                    + ">= 1 and --batch-size >= 2");
        }
        PpoRewards.KlEstimator estimator;
        try {
            estimator = PpoRewards.KlEstimator.valueOf(kl.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--kl-estimator must be k1, k2 or k3, got " + kl);
        }
        List<Task> train = WorldPrompts.read(prompts);
        List<Task> val = WorldPrompts.read(validation);
        PpoTrainer.Options ppo = new PpoTrainer.Options(lr, miniBatch, beta, estimator, gamma, lambda,
                PpoLosses.CLIP, PpoLosses.VALUE_CLIP, valueCoef, seed);
        try (NDManager m = NDManager.newBaseManager(); GradMode.Restore ignored = GradMode.disabled();
             RewardModel h = models.helpfulness(m);
             RewardModel s = models.safety(m)) {
            PpoStage.Result r = PpoStage.run(models.policy, out, h, s, train, val, new PpoStage.Options(iterations,
                    batchSize, ppo, 1.0, maxNewTokens, evalEvery, patience, seed, List.of(), 0, 0, 0,
                    samplesPerPrompt, PpoStage.Selection.RM, null), m);
            System.out.printf(Locale.ROOT, "ppo: wrote %s (best validation iteration %d of %d run%s)%n", out,
                    r.bestIteration(), r.iterations().size(), r.stoppedEarly() ? ", stopped early" : "");
        }
        return 0;
    }
}
