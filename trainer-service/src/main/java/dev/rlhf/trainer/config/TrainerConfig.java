package dev.rlhf.trainer.config;

import dev.rlhf.llama.rl.Advantages;
import dev.rlhf.vocabulary.Llama2Recipe;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.platform.config.ConfigException;
import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.config.ConfigValues;
import dev.rlhf.platform.kafka.KafkaKeys;
import dev.rlhf.platform.logging.LogFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Trainer-service settings; the only place its config keys are read. */
public record TrainerConfig(String bootstrapServers, Path checkpointDir, Path initialPolicy, int batchSize,
                            int microBatchSize, int sequenceLength, double learningRate, int checkpointEverySteps,
                            String device, Duration pollTimeout, int metricsPort, Path replayData,
                            int replayPerStep, String algorithm, Ppo ppo, Rewards rewards, String metricsHost,
                            int keepCheckpoints, dev.rlhf.llama.lora.LoraConfig lora) {
    public static final String REJECTION_SAMPLING = "rejection-sampling";
    public static final String PPO = "ppo";
    public static final String GRPO = "grpo";
    public static final String RLOO = "rloo";

    /** Whether the algorithm learns from rlhf.rollouts (the PPO family) rather than rlhf.best. */
    public static boolean learnsFromRollouts(String algorithm) {
        return PPO.equals(algorithm) || GRPO.equals(algorithm) || RLOO.equals(algorithm);
    }

    /** Online PPO, GRPO or RLOO on rlhf.rollouts (used when algorithm is one of them). */
    public record Ppo(int batchSize, int miniBatchSize, double learningRate, double beta, String klEstimator,
                      double gamma, double lambda, int maxStaleness, long seed, int epochs, double targetKl,
                      double missingEosPenalty, double ptxCoef, double klTarget, double klHorizon,
                      double valueLearningRate, int valueWarmupSteps, Path valueInit) {
        /**
         * LLaMA 2 §3.2.3: batch 512, mini-batch 64, lr 1e-6, beta 0.01, one epoch; ours: k1, GAE 1.0/0.95,
         * staleness 1, no KL target, no missing-EOS penalty, no PPO-ptx, a fixed beta (an adaptive one: horizon
         * 10,000 as Ziegler et al. 2019).
         */
        public static Ppo defaults() {
            return new Ppo(Llama2Recipe.PPO_BATCH, Llama2Recipe.PPO_MINI_BATCH, Llama2Recipe.PPO_LEARNING_RATE,
                    Llama2Recipe.PPO_BETA, "k1", Advantages.GAMMA, Advantages.LAMBDA, 1, 0, 1, 0, 0, 0, 0, 10_000, 0, 0, null);
        }

        /** Responses per iteration and per gradient step. */
        public Ppo withBatch(int batch, int miniBatch) {
            return new Ppo(batch, miniBatch, learningRate, beta, klEstimator, gamma, lambda, maxStaleness, seed,
                    epochs, targetKl, missingEosPenalty, ptxCoef, klTarget, klHorizon, valueLearningRate,
                    valueWarmupSteps, valueInit);
        }

        public Ppo withLearningRate(double lr, double klCoefficient) {
            return new Ppo(batchSize, miniBatchSize, lr, klCoefficient, klEstimator, gamma, lambda, maxStaleness,
                    seed, epochs, targetKl, missingEosPenalty, ptxCoef, klTarget, klHorizon, valueLearningRate,
                    valueWarmupSteps, valueInit);
        }

        public Ppo withStaleness(int versions, long shuffleSeed) {
            return new Ppo(batchSize, miniBatchSize, learningRate, beta, klEstimator, gamma, lambda, versions,
                    shuffleSeed, epochs, targetKl, missingEosPenalty, ptxCoef, klTarget, klHorizon, valueLearningRate,
                    valueWarmupSteps, valueInit);
        }

        /** The per-token KL estimator (k1, k2 or k3) and GAE's discount and lambda. */
        public Ppo withAdvantageEstimation(String kl, double discount, double gaeLambda) {
            return new Ppo(batchSize, miniBatchSize, learningRate, beta, kl, discount, gaeLambda, maxStaleness, seed,
                    epochs, targetKl, missingEosPenalty, ptxCoef, klTarget, klHorizon, valueLearningRate,
                    valueWarmupSteps, valueInit);
        }

        /** Passes over each batch, and the approximate KL at which an iteration stops early (0 = never). */
        public Ppo withEpochs(int passes, double stopKl) {
            return new Ppo(batchSize, miniBatchSize, learningRate, beta, klEstimator, gamma, lambda, maxStaleness,
                    seed, passes, stopKl, missingEosPenalty, ptxCoef, klTarget, klHorizon, valueLearningRate,
                    valueWarmupSteps, valueInit);
        }

        /** The adaptive KL controller's target (0 = beta fixed) and the missing-EOS penalty. */
        public Ppo withKlTargetAndEosPenalty(double targetSequenceKl, double eosPenalty) {
            return new Ppo(batchSize, miniBatchSize, learningRate, beta, klEstimator, gamma, lambda, maxStaleness,
                    seed, epochs, targetKl, eosPenalty, ptxCoef, targetSequenceKl, klHorizon, valueLearningRate,
                    valueWarmupSteps, valueInit);
        }

        /** The value head's learning rate (0 = the policy's), warm-up steps, and initial reward checkpoint. */
        public Ppo withValueHead(double lr, int warmupSteps, Path init) {
            return new Ppo(batchSize, miniBatchSize, learningRate, beta, klEstimator, gamma, lambda, maxStaleness,
                    seed, epochs, targetKl, missingEosPenalty, ptxCoef, klTarget, klHorizon, lr, warmupSteps, init);
        }

        public Ppo withPtxCoef(double coef) {
            return new Ppo(batchSize, miniBatchSize, learningRate, beta, klEstimator, gamma, lambda, maxStaleness,
                    seed, epochs, targetKl, missingEosPenalty, coef, klTarget, klHorizon, valueLearningRate,
                    valueWarmupSteps, valueInit);
        }
    }

    /**
     * Online reward-model training on rlhf.preferences; a kind trains only when its initial model is set (null =
     * not trained here).
     */
    public record Rewards(Path checkpointDir, Path initialHelpfulness, Path initialSafety, int batchSize,
                          double learningRate, String margin, double safetyCalibration, double helpfulnessSafetyShare,
                          double safetyHelpfulnessShare, int checkpointEverySteps, int helpfulnessScheduleSteps,
                          int safetyScheduleSteps) {
        /** The recipe's values, with no reward model trained here. */
        public static Rewards defaults() {
            return new Rewards(null, null, null, Llama2Recipe.RM_BATCH_PAIRS, Llama2Recipe.RM_LEARNING_RATE, "small",
                    0.1, 1.0, 0.11, 1, DEFAULT_RM_SCHEDULE_STEPS, DEFAULT_RM_SCHEDULE_STEPS);
        }

        /** The schedule horizon of {@code kind}'s model. */
        public int scheduleSteps(RewardKind kind) {
            return kind == RewardKind.SAFETY ? safetyScheduleSteps : helpfulnessScheduleSteps;
        }

        public boolean enabled() {
            return initialHelpfulness != null || initialSafety != null;
        }
    }

    /** Rejection sampling only, without replay of demonstrations. */
    public TrainerConfig(String bootstrapServers, Path checkpointDir, Path initialPolicy, int batchSize,
                         int microBatchSize, int sequenceLength, double learningRate, int checkpointEverySteps,
                         String device, Duration pollTimeout, int metricsPort) {
        this(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize, sequenceLength, learningRate,
                checkpointEverySteps, device, pollTimeout, metricsPort, null, 0);
    }

    /** Rejection sampling only. */
    public TrainerConfig(String bootstrapServers, Path checkpointDir, Path initialPolicy, int batchSize,
                         int microBatchSize, int sequenceLength, double learningRate, int checkpointEverySteps,
                         String device, Duration pollTimeout, int metricsPort, Path replayData, int replayPerStep) {
        this(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize, sequenceLength, learningRate,
                checkpointEverySteps, device, pollTimeout, metricsPort, replayData, replayPerStep, REJECTION_SAMPLING,
                Ppo.defaults(), Rewards.defaults(), METRICS_HOST.defaultValue().orElseThrow(),
                KEEP_CHECKPOINTS.defaultValue().orElseThrow(), null);
    }

    public TrainerConfig withAlgorithm(String algorithm, Ppo ppo) {
        return new TrainerConfig(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize,
                sequenceLength, learningRate, checkpointEverySteps, device, pollTimeout, metricsPort, replayData,
                replayPerStep, algorithm, ppo, rewards, metricsHost, keepCheckpoints, lora);
    }

    public TrainerConfig withRewards(Rewards rewards) {
        return new TrainerConfig(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize,
                sequenceLength, learningRate, checkpointEverySteps, device, pollTimeout, metricsPort, replayData,
                replayPerStep, algorithm, ppo, rewards, metricsHost, keepCheckpoints, lora);
    }

    public static final ConfigKey<String> CHECKPOINT_DIR = ConfigKey.string("trainer.checkpoint-dir", null,
            "Directory of policy checkpoints (policy-vNNNNNN), shared with the policy service.");
    public static final ConfigKey<String> INITIAL_POLICY = ConfigKey.string("trainer.initial-policy", null,
            "Checkpoint to start from when the checkpoint directory is empty (the SFT model, version 0).");
    public static final ConfigKey<Integer> BATCH_SIZE = ConfigKey.integer("trainer.batch-size", 64, 1, 65536,
            "Best-of-N samples per SFT step (LLaMA 2 SFT batch: 64).");
    public static final ConfigKey<Integer> MICRO_BATCH_SIZE = ConfigKey.integer("trainer.micro-batch-size", 8, 1,
            65536, "Packed rows per forward/backward pass; gradients accumulate over the batch.");
    public static final ConfigKey<Integer> SEQUENCE_LENGTH = ConfigKey.integer("trainer.sequence-length", 512, 2,
            4096, "Packed sequence length; capped at the model's context (max_position_embeddings).");
    public static final ConfigKey<Double> LEARNING_RATE = ConfigKey.decimal("trainer.learning-rate", 2e-5, 1e-9, 1.0,
            "Constant learning rate of the online SFT steps (LLaMA 2 §3.1: 2e-5).");
    public static final ConfigKey<Integer> CHECKPOINT_EVERY = ConfigKey.integer("trainer.checkpoint-every-steps", 1,
            1, 1_000_000, "Publish a new policy version every N steps.");
    public static final ConfigKey<String> DEVICE = ConfigKey.oneOf("trainer.device", List.of("cpu", "gpu", "auto"),
            "cpu", "Where training runs.");
    public static final ConfigKey<Duration> POLL_TIMEOUT = ConfigKey.duration("trainer.poll-timeout",
            Duration.ofMillis(500), "Kafka poll timeout.");
    public static final ConfigKey<Integer> METRICS_PORT = ConfigKey.integer("trainer.metrics-port", 9467, 0, 65535,
            "Prometheus /metrics port (0 = any free port).");

    public static final ConfigKey<String> REPLAY_DATA = ConfigKey.string("trainer.replay-data", "",
            "Ours: JSONL {prompt, response} demonstrations (the SFT set) replayed next to the best samples so that "
            + "rejection sampling does not erode what SFT taught; empty = none.");
    public static final ConfigKey<Integer> REPLAY_PER_STEP = ConfigKey.integer("trainer.replay-per-step", 0, 0,
            65536, "Demonstrations from trainer.replay-data added to each step (0 = off).");

    public static final ConfigKey<String> ALGORITHM = ConfigKey.oneOf("trainer.algorithm",
            List.of(REJECTION_SAMPLING, PPO, GRPO, RLOO), REJECTION_SAMPLING,
            "How the policy learns: rejection-sampling fine-tuning on rlhf.best, or PPO, GRPO or RLOO on "
            + "rlhf.rollouts (GRPO and RLOO use the N candidates of each rollout as the group, no value head).");
    public static final ConfigKey<Integer> PPO_BATCH = ConfigKey.integer("trainer.ppo-batch-size",
            Llama2Recipe.PPO_BATCH, 2, 1 << 20,
            "Responses per PPO iteration (LLaMA 2 §3.2.3: 512); rewards are whitened over it.");
    public static final ConfigKey<Integer> PPO_MINI_BATCH = ConfigKey.integer("trainer.ppo-mini-batch-size",
            Llama2Recipe.PPO_MINI_BATCH, 1,
            1 << 20, "Responses per PPO gradient step, one step per mini-batch (LLaMA 2: 64).");
    public static final ConfigKey<Double> PPO_LR = ConfigKey.decimal("trainer.ppo-learning-rate",
            Llama2Recipe.PPO_LEARNING_RATE, 1e-12, 1.0,
            "Constant AdamW learning rate of PPO (LLaMA 2: 1e-6).");
    public static final ConfigKey<Double> PPO_BETA = ConfigKey.decimal("trainer.ppo-beta", Llama2Recipe.PPO_BETA, 0.0,
            100.0, "KL coefficient to the reference pi_0, the policy PPO started from (recorded in each checkpoint) "
            + "(LLaMA 2: 0.01 for 7B/13B); in the reward for PPO and RLOO, in the loss for GRPO.");
    public static final ConfigKey<String> PPO_KL = ConfigKey.oneOf("trainer.ppo-kl-estimator",
            List.of("k1", "k2", "k3"), "k1", "Per-token KL estimator (Schulman 2020; k1 = logp - logp_ref).");
    public static final ConfigKey<Double> PPO_GAMMA = ConfigKey.decimal("trainer.ppo-gamma", 1.0, 0.0, 1.0,
            "GAE discount.");
    public static final ConfigKey<Double> PPO_LAMBDA = ConfigKey.decimal("trainer.ppo-lambda", 0.95, 0.0, 1.0,
            "GAE lambda.");
    public static final ConfigKey<Integer> PPO_MAX_STALENESS = ConfigKey.integer("trainer.ppo-max-staleness", 1, 0,
            1_000_000, "Rollouts sampled more than this many policy versions ago are dropped (and counted).");
    public static final ConfigKey<Integer> PPO_EPOCHS = ConfigKey.integer("trainer.ppo-epochs", 1, 1, 100,
            "Passes over each rollout batch, one gradient step per mini-batch each (LLaMA 2: 1).");
    public static final ConfigKey<Double> PPO_TARGET_KL = ConfigKey.decimal("trainer.ppo-target-kl", 0.0, 0.0, 100.0,
            "Ours: stop an iteration's remaining mini-batches once one's approximate KL to pi_old exceeds 1.5x this "
            + "(0 = off).");
    public static final ConfigKey<Double> PPO_MISSING_EOS_PENALTY = ConfigKey.decimal(
            "trainer.ppo-missing-eos-penalty", 0.0, 0.0, 1000.0, "Ours: subtracted from the raw reward of a response "
            + "cut at max_new_tokens without </s> (0 = off).");
    public static final ConfigKey<Double> PPO_PTX_COEF = ConfigKey.decimal("trainer.ppo-ptx-coef", 0.0, 0.0, 1000.0,
            "Ours (InstructGPT's PPO-ptx): weight of the next-token loss on trainer.replay-per-step demonstrations "
            + "from trainer.replay-data packed into every PPO/GRPO/RLOO step (0 = off).");
    public static final ConfigKey<Double> PPO_KL_TARGET = ConfigKey.decimal("trainer.ppo-kl-target", 0.0, 0.0, 1e6,
            "Ours (Ziegler et al. 2019): the mean sequence KL to pi_0 an adaptive controller steers trainer.ppo-beta "
            + "towards, clipped proportional steps (0 = beta fixed, the recipe).");
    public static final ConfigKey<Double> PPO_KL_HORIZON = ConfigKey.decimal("trainer.ppo-kl-horizon", 10_000.0, 1.0,
            1e12, "Horizon of the adaptive KL controller, in responses (Ziegler et al. 2019: 10,000).");
    public static final ConfigKey<Double> PPO_VALUE_LR = ConfigKey.decimal("trainer.ppo-value-learning-rate", 0.0, 0.0,
            1.0, "The value head's own learning rate (0 = the policy's); the trunk it shares moves at the policy's.");
    public static final ConfigKey<Integer> PPO_VALUE_WARMUP = ConfigKey.integer("trainer.ppo-value-warmup-steps", 0, 0,
            1_000_000, "Ours: the first N PPO gradient steps train the value head alone (everything else frozen).");
    public static final ConfigKey<String> PPO_VALUE_INIT = ConfigKey.string("trainer.ppo-value-init", "",
            "A reward checkpoint whose scalar head starts PPO's value head (InstructGPT); empty = a zero head.");
    public static final ConfigKey<Long> PPO_SEED = ConfigKey.longInteger("trainer.ppo-seed", 0L, 0L, Long.MAX_VALUE,
            "Seed of the PPO mini-batch shuffles.");

    public static final ConfigKey<String> RM_CHECKPOINT_DIR = ConfigKey.string("trainer.reward-checkpoint-dir", "",
            "Directory of online reward-model checkpoints (helpfulness-vNNNNNN, safety-vNNNNNN), shared with the "
            + "reward services; required when a reward model trains here.");
    public static final ConfigKey<String> RM_INITIAL_HELPFULNESS = ConfigKey.string(
            "trainer.reward-initial-helpfulness", "", "Helpfulness reward checkpoint (with its scalar head) to "
            + "continue training on rlhf.preferences; empty = not trained here.");
    public static final ConfigKey<String> RM_INITIAL_SAFETY = ConfigKey.string("trainer.reward-initial-safety", "",
            "Safety reward checkpoint to continue training on rlhf.preferences; empty = not trained here.");
    public static final ConfigKey<Integer> RM_BATCH = ConfigKey.integer("trainer.reward-batch-size",
            Llama2Recipe.RM_BATCH_PAIRS, 1, 1 << 20,
            "Preference pairs per reward-model step (LLaMA 2 §3.2.2: 512).");
    public static final ConfigKey<Double> RM_LR = ConfigKey.decimal("trainer.reward-learning-rate",
            Llama2Recipe.RM_LEARNING_RATE, 1e-12, 1.0,
            "Constant learning rate of online reward-model steps (LLaMA 2 maximum: 1e-5, 5e-6 for 70B).");
    public static final ConfigKey<String> RM_MARGIN = ConfigKey.oneOf("trainer.reward-margin",
            List.of("none", "small", "large"), "small", "Ranking-loss margin table (LLaMA 2 Table 27).");
    public static final ConfigKey<Double> RM_SAFETY_CALIBRATION = ConfigKey.decimal(
            "trainer.reward-safety-calibration", 0.1, 0.0, 100.0, "Ours: weight of the safe/unsafe logistic term "
            + "that anchors sigmoid(Rs) to P(safe), on safety pairs of the safety model (0 = off).");
    public static final ConfigKey<Double> RM_HELPFULNESS_SAFETY_SHARE = ConfigKey.decimal(
            "trainer.reward-helpfulness-safety-share", 1.0, 0.0, 1.0, "Fraction of safety pairs the helpfulness "
            + "model also trains on (recipe: an equal amount; 1.0 with equal volumes).");
    public static final ConfigKey<Double> RM_SAFETY_HELPFULNESS_SHARE = ConfigKey.decimal(
            "trainer.reward-safety-helpfulness-share", 0.11, 0.0, 1.0, "Fraction of helpfulness pairs the safety "
            + "model also trains on (recipe: 90/10; 0.11 with equal volumes).");
    /** Ours: the horizon of the online schedule (a stream has no epoch to size it by). */
    public static final int DEFAULT_RM_SCHEDULE_STEPS = 1000;
    public static final ConfigKey<Integer> RM_HELPFULNESS_SCHEDULE_STEPS = ConfigKey.integer(
            "trainer.reward-helpfulness-schedule-steps", DEFAULT_RM_SCHEDULE_STEPS, 0, 1 << 30,
            "Horizon of the helpfulness model's schedule (LLaMA 2 §3.2.2): warm-up over 3% of these steps (at "
            + "least 5), cosine decay to 10% of the learning rate by the last, 10% after it; 0 = constant.");
    public static final ConfigKey<Integer> RM_SAFETY_SCHEDULE_STEPS = ConfigKey.integer(
            "trainer.reward-safety-schedule-steps", DEFAULT_RM_SCHEDULE_STEPS, 0, 1 << 30,
            "Horizon of the safety model's schedule, as above (its data volume usually differs).");
    public static final ConfigKey<Integer> RM_CHECKPOINT_EVERY = ConfigKey.integer(
            "trainer.reward-checkpoint-every-steps", 1, 1, 1_000_000, "Publish a new reward version every N steps.");

    public static final ConfigKey<Integer> KEEP_CHECKPOINTS = ConfigKey.integer("trainer.keep-checkpoints", 0, 0,
            1_000_000, "Complete checkpoints kept per model after each new version (the oldest deleted; PPO's "
                    + "reference pi_0 always kept); 0 = all, else at least 2. Roll back: k8s/README.md.")
            .withCheck(n -> n == 0 || n >= 2, "0 or at least 2");
    public static final ConfigKey<String> LORA = ConfigKey.string("trainer.lora", "", "Train LoRA adapters instead "
            + "of every weight, in every learner here (rejection sampling, PPO/GRPO/RLOO, reward models): "
            + "r=16,alpha=32,targets=q_proj,v_proj (alpha defaults to 2r, targets to all seven projections). A "
            + "model that already carries an adapter continues it; versions are PEFT adapter directories naming "
            + "their base; PPO's reference is the base with the adapter off. Empty = full fine-tuning.")
            .withCheck(TrainerConfig::validLora, "r=N[,alpha=A][,dropout=0][,targets=q_proj,v_proj,...]");
    public static final ConfigKey<String> METRICS_HOST = ConfigKey.string("trainer.metrics-host", "0.0.0.0",
            "Address the Prometheus /metrics server binds.");

    public static ConfigSchema schema() {
        List<ConfigKey<?>> keys = new ArrayList<>(KafkaKeys.ALL);
        keys.add(LogFormat.KEY);
        keys.addAll(List.of(CHECKPOINT_DIR, INITIAL_POLICY, BATCH_SIZE, MICRO_BATCH_SIZE, SEQUENCE_LENGTH,
                LEARNING_RATE, CHECKPOINT_EVERY, DEVICE, POLL_TIMEOUT, METRICS_PORT, REPLAY_DATA, REPLAY_PER_STEP,
                ALGORITHM, PPO_BATCH, PPO_MINI_BATCH, PPO_LR, PPO_BETA, PPO_KL, PPO_GAMMA, PPO_LAMBDA,
                PPO_MAX_STALENESS, PPO_SEED, PPO_EPOCHS, PPO_TARGET_KL, PPO_MISSING_EOS_PENALTY, PPO_PTX_COEF, PPO_KL_TARGET, PPO_KL_HORIZON, PPO_VALUE_LR,
                PPO_VALUE_WARMUP, PPO_VALUE_INIT, RM_CHECKPOINT_DIR, RM_INITIAL_HELPFULNESS, RM_INITIAL_SAFETY, RM_BATCH,
                RM_LR, RM_MARGIN, RM_SAFETY_CALIBRATION, RM_HELPFULNESS_SAFETY_SHARE, RM_SAFETY_HELPFULNESS_SHARE,
                RM_CHECKPOINT_EVERY, RM_HELPFULNESS_SCHEDULE_STEPS, RM_SAFETY_SCHEDULE_STEPS, METRICS_HOST, KEEP_CHECKPOINTS,
                LORA));
        return ConfigSchema.of("trainer", keys);
    }

    public static TrainerConfig from(ConfigValues v) {
        Rewards rewards = new Rewards(optionalPath(v.get(RM_CHECKPOINT_DIR)),
                optionalPath(v.get(RM_INITIAL_HELPFULNESS)), optionalPath(v.get(RM_INITIAL_SAFETY)), v.get(RM_BATCH),
                v.get(RM_LR), v.get(RM_MARGIN), v.get(RM_SAFETY_CALIBRATION), v.get(RM_HELPFULNESS_SAFETY_SHARE),
                v.get(RM_SAFETY_HELPFULNESS_SHARE), v.get(RM_CHECKPOINT_EVERY), v.get(RM_HELPFULNESS_SCHEDULE_STEPS),
                v.get(RM_SAFETY_SCHEDULE_STEPS));
        if (rewards.enabled() && rewards.checkpointDir() == null) {
            throw new ConfigException(List.of(RM_CHECKPOINT_DIR.name()), List.of(RM_CHECKPOINT_DIR.name()
                    + " is required when " + RM_INITIAL_HELPFULNESS.name() + " or " + RM_INITIAL_SAFETY.name()
                    + " is set"));
        }
        Ppo ppo = new Ppo(v.get(PPO_BATCH), v.get(PPO_MINI_BATCH), v.get(PPO_LR), v.get(PPO_BETA), v.get(PPO_KL),
                v.get(PPO_GAMMA), v.get(PPO_LAMBDA), v.get(PPO_MAX_STALENESS), v.get(PPO_SEED), v.get(PPO_EPOCHS),
                v.get(PPO_TARGET_KL), v.get(PPO_MISSING_EOS_PENALTY), v.get(PPO_PTX_COEF), v.get(PPO_KL_TARGET),
                v.get(PPO_KL_HORIZON), v.get(PPO_VALUE_LR), v.get(PPO_VALUE_WARMUP), optionalPath(v.get(PPO_VALUE_INIT)));
        return new TrainerConfig(v.get(KafkaKeys.BOOTSTRAP_SERVERS), Path.of(v.get(CHECKPOINT_DIR)),
                Path.of(v.get(INITIAL_POLICY)), v.get(BATCH_SIZE), v.get(MICRO_BATCH_SIZE), v.get(SEQUENCE_LENGTH),
                v.get(LEARNING_RATE), v.get(CHECKPOINT_EVERY), v.get(DEVICE), v.get(POLL_TIMEOUT),
                v.get(METRICS_PORT), optionalPath(v.get(REPLAY_DATA)), v.get(REPLAY_PER_STEP), v.get(ALGORITHM), ppo,
                rewards, v.get(METRICS_HOST), v.get(KEEP_CHECKPOINTS),
                v.get(LORA).isBlank() ? null : dev.rlhf.llama.lora.LoraConfig.parse(v.get(LORA)));
    }

    /** The same settings keeping only the newest {@code n} checkpoints per model (0 = all). */
    public TrainerConfig withKeepCheckpoints(int n) {
        return new TrainerConfig(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize,
                sequenceLength, learningRate, checkpointEverySteps, device, pollTimeout, metricsPort, replayData,
                replayPerStep, algorithm, ppo, rewards, metricsHost, n, lora);
    }

    /** The same settings training LoRA adapters ({@code lora} null: every weight). */
    public TrainerConfig withLora(dev.rlhf.llama.lora.LoraConfig lora) {
        return new TrainerConfig(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize,
                sequenceLength, learningRate, checkpointEverySteps, device, pollTimeout, metricsPort, replayData,
                replayPerStep, algorithm, ppo, rewards, metricsHost, keepCheckpoints, lora);
    }

    /** The same settings with the metrics server bound to {@code host} (`rlhf up`: loopback). */
    public TrainerConfig withMetricsHost(String host) {
        return new TrainerConfig(bootstrapServers, checkpointDir, initialPolicy, batchSize, microBatchSize,
                sequenceLength, learningRate, checkpointEverySteps, device, pollTimeout, metricsPort, replayData,
                replayPerStep, algorithm, ppo, rewards, host, keepCheckpoints, lora);
    }

    private static boolean validLora(String spec) {
        if (spec.isBlank()) {
            return true;
        }
        try {
            dev.rlhf.llama.lora.LoraConfig.parse(spec);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static Path optionalPath(String value) {
        return value == null || value.isBlank() ? null : Path.of(value.strip());
    }
}
