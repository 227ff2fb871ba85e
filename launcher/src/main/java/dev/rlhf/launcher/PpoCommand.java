package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import ai.djl.ndarray.NDManager;
import dev.rlhf.launcher.pipeline.RolloutLearningStage;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.world.PromptRecord;
import dev.rlhf.world.WorldData;
import java.time.Duration;
import dev.rlhf.llama.runtime.GradMode;
import dev.rlhf.llama.reward.RewardModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code rlhf ppo}: PPO, GRPO or RLOO through the services (embedded broker, policy, reward, sampler and trainer on
 * loopback), the same learner as {@code rlhf up} and the demo.
 */
@Command(name = "ppo", mixinStandardHelpOptions = true,
        description = {"PPO (LLaMA 2 §3.2.3), GRPO or RLOO through the services: each iteration sends a batch of "
                + "--prompts to the sampler, which draws --samples-per-prompt responses from the policy service and "
                + "scores them with both reward services (Rc = the safety score for safety-tagged prompts or "
                + "sigmoid(Rs) < 0.15, the helpfulness score otherwise); the trainer service learns from the "
                + "rollouts (PPO: reward LOGIT(Rc) whitened, KL penalty to the starting policy, value head, GAE; GRPO "
                + "and RLOO: the samples of a prompt are the group) and the policy service hot-swaps each version. "
                + "Every --eval-every iterations the reward models score greedy answers to --validation prompts; "
                + "the best version is written to --out and --patience validations without improvement stop.",
            "Any prompts (JSONL {\"id\", \"text\", \"safety_tagged\"})."})
final class PpoCommand implements Callable<Integer> {
    @Mixin
    ModelsOptions models;

    @Mixin
    AdapterOptions.Lora lora = new AdapterOptions.Lora();

    @Option(names = "--algorithm", defaultValue = "ppo", description = "ppo, grpo or rloo (default: "
            + "${DEFAULT-VALUE}).")
    String algorithm;

    @Option(names = "--prompts", required = true, description = "JSONL training prompts.")
    Path prompts;

    @Option(names = "--validation", required = true, description = "JSONL validation prompts (early stopping and the "
            + "choice of the kept version).")
    Path validation;

    @Option(names = "--out", required = true, description = "Directory for the kept policy (must not exist); the "
            + "services' work goes to <out>.work.")
    Path out;

    @Option(names = "--iterations", defaultValue = "200", description = "Default: ${DEFAULT-VALUE} (the paper: "
            + "200-400).")
    int iterations;

    @Option(names = "--batch-size", defaultValue = "" + Llama2Recipe.PPO_BATCH, description = "Responses per "
            + "iteration (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--mini-batch-size", defaultValue = "" + Llama2Recipe.PPO_MINI_BATCH,
            description = "Default: ${DEFAULT-VALUE}.")
    int miniBatch;

    @Option(names = "--samples-per-prompt", defaultValue = "1", description = "Responses per prompt (GRPO and RLOO: "
            + "the group, at least 2) (default: ${DEFAULT-VALUE}).")
    int samplesPerPrompt;

    @Option(names = "--lr", defaultValue = "" + Llama2Recipe.PPO_LEARNING_RATE, description = "Constant learning "
            + "rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--beta", defaultValue = "" + Llama2Recipe.PPO_BETA, description = "KL coefficient (default: "
            + "${DEFAULT-VALUE}; 0.005 for 34B/70B).")
    double beta;

    @Option(names = "--kl-estimator", defaultValue = "k1", description = "Per-token KL estimator: k1, k2 or k3 "
            + "(default: ${DEFAULT-VALUE}).")
    String kl;

    @Option(names = "--gamma", defaultValue = "1.0", description = "GAE discount, PPO only (default: ${DEFAULT-VALUE}).")
    double gamma;

    @Option(names = "--lambda", defaultValue = "0.95", description = "GAE lambda, PPO only (default: ${DEFAULT-VALUE}).")
    double lambda;

    @Option(names = "--epochs", defaultValue = "1", description = "Passes over each iteration's responses (default: "
            + "${DEFAULT-VALUE}, the recipe's).")
    int epochs;

    @Option(names = "--target-kl", defaultValue = "0", description = "Stop an iteration's remaining mini-batches once "
            + "one's approximate KL to the sampling policy exceeds 1.5x this (default: ${DEFAULT-VALUE} = off).")
    double targetKl;

    @Option(names = "--kl-target", defaultValue = "0", description = "Adaptive KL: steer --beta so the mean sequence "
            + "KL to the starting policy approaches this (Ziegler et al. 2019; default: ${DEFAULT-VALUE} = beta fixed).")
    double klTarget;

    @Option(names = "--missing-eos-penalty", defaultValue = "0", description = "Subtracted from the reward of a "
            + "response cut at --max-new-tokens without </s> (default: ${DEFAULT-VALUE}).")
    double missingEosPenalty;

    @Option(names = "--value-lr", defaultValue = "0", description = "PPO: the value head's own learning rate "
            + "(default: ${DEFAULT-VALUE} = the policy's).")
    double valueLr;

    @Option(names = "--value-warmup-steps", defaultValue = "0", description = "PPO: the first N gradient steps "
            + "train the value head alone (default: ${DEFAULT-VALUE}).")
    int valueWarmup;

    @Option(names = "--value-init", description = "PPO: a reward checkpoint whose scalar head starts the value head "
            + "(default: a zero head).")
    Path valueInit;

    @Option(names = "--ptx-data", description = "PPO-ptx: demonstrations (JSONL prompt/response) whose next-token "
            + "loss joins every step (InstructGPT).")
    Path ptxData;

    @Option(names = "--ptx-coef", defaultValue = "1.0", description = "PPO-ptx weight, with --ptx-data (default: "
            + "${DEFAULT-VALUE}).")
    double ptxCoef;

    @Option(names = "--ptx-per-step", defaultValue = "16", description = "Demonstrations per step, with --ptx-data "
            + "(default: ${DEFAULT-VALUE}).")
    int ptxPerStep;

    @Option(names = "--temperature", defaultValue = "1.0", description = "Sampling temperature; the trainer "
            + "evaluates its policy at the same temperature (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--eval-every", defaultValue = "10", description = "Validation every N iterations "
            + "(default: ${DEFAULT-VALUE}).")
    int evalEvery;

    @Option(names = "--patience", defaultValue = "3", description = "Stop after this many validations without "
            + "improvement (default: ${DEFAULT-VALUE}).")
    int patience;

    @Option(names = "--max-new-tokens", defaultValue = "24", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    long seed;

    @Override
    public Integer call() throws Exception {
        models.checkedDevice();
        if (Files.exists(out)) {
            throw new IllegalArgumentException("output directory already exists: " + out);
        }
        if (iterations < 1 || batchSize < 2 || miniBatch < 1 || evalEvery < 1 || patience < 1
                || samplesPerPrompt < 1 || batchSize % samplesPerPrompt != 0) {
            throw new IllegalArgumentException("--iterations, --eval-every, --patience, --mini-batch-size must be "
                    + ">= 1, --batch-size >= 2 and a multiple of --samples-per-prompt");
        }
        if (!TrainerConfig.learnsFromRollouts(algorithm)) {
            throw new IllegalArgumentException("--algorithm must be ppo, grpo or rloo, got " + algorithm);
        }
        if (!TrainerConfig.PPO.equals(algorithm) && samplesPerPrompt < 2) {
            throw new IllegalArgumentException(algorithm + " compares the samples of a prompt: --samples-per-prompt "
                    + "must be at least 2");
        }
        if (!List.of("k1", "k2", "k3").contains(kl)) {
            throw new IllegalArgumentException("--kl-estimator must be k1, k2 or k3, got " + kl);
        }
        if (!(gamma >= 0 && gamma <= 1) || !(lambda >= 0 && lambda <= 1)) {
            throw new IllegalArgumentException("--gamma and --lambda must be in [0, 1], got " + gamma + " and " + lambda);
        }
        if (epochs < 1 || !(targetKl >= 0) || !(klTarget >= 0) || !(missingEosPenalty >= 0) || !(valueLr >= 0)
                || valueWarmup < 0 || !(ptxCoef > 0) || ptxPerStep < 1) {
            throw new IllegalArgumentException("--epochs and --ptx-per-step must be >= 1, --ptx-coef > 0, and "
                    + "--target-kl, --kl-target, --missing-eos-penalty, --value-lr, --value-warmup-steps >= 0");
        }
        for (Path p : new Path[] {valueInit, ptxData}) {
            if (p != null && !Files.exists(p)) {
                throw new IllegalArgumentException("not found: " + p);
            }
        }
        List<PromptRecord> train = WorldData.readPrompts(prompts);
        List<PromptRecord> val = WorldData.readPrompts(validation);
        Path work = Path.of(out + ".work");
        AtomicDirectory.deleteRecursively(work);
        TrainerConfig.Ppo ppo = TrainerConfig.Ppo.defaults().withBatch(batchSize, miniBatch)
                .withLearningRate(lr, beta).withStaleness(1, seed).withAdvantageEstimation(kl, gamma, lambda)
                .withEpochs(epochs, targetKl).withKlTargetAndEosPenalty(klTarget, missingEosPenalty)
                .withValueHead(valueLr, valueWarmup, valueInit).withPtxCoef(ptxData == null ? 0 : ptxCoef);
        try (NDManager m = models.manager(); GradMode.Restore ignored = GradMode.disabled();
             RewardModel h = models.helpfulness(m);
             RewardModel s = models.safety(m)) {
            RolloutLearningStage.Result r = RolloutLearningStage.run(work, models.policy, models.rmHelpfulness,
                    models.rmSafety, h, s, train, val, new RolloutLearningStage.Options(algorithm, iterations,
                            batchSize / samplesPerPrompt, samplesPerPrompt, temperature, maxNewTokens, ppo, evalEvery,
                            patience, seed, ptxData, ptxData == null ? 0 : ptxPerStep, 512,
                            Duration.ofMinutes(30)).withLora(lora.config()).withDevice(models.device), null, m,
                    msg -> System.err.println("  " + msg));
            try (NDManager copy = m.newSubManager()) {
                LlamaWeights w = LlamaCheckpoint.load(r.model(), copy, LlamaCheckpoint.ScoreHead.ABSENT);
                LlamaCheckpoint.save(w, out, LlamaCheckpoint.SaveOptions.defaults(r.bestIteration())
                        .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(r.model(), dir)));
            }
            System.out.printf(Locale.ROOT, "%s: wrote %s (best validation iteration %d of %d run%s; %d sampled "
                    + "tokens)%n", algorithm, out, r.bestIteration(), r.iterations().size(),
                    r.stoppedEarly() ? ", stopped early" : "", r.sampledTokens());
        }
        return 0;
    }
}
