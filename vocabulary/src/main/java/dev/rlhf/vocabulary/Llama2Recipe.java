package dev.rlhf.vocabulary;

/**
 * The LLaMA 2 fine-tuning recipe's numbers (Touvron et al. 2023; {@code ../shared/LLAMA2-RECIPE.md}), each once,
 * with the section it comes from. Every default in the services, the stage commands and the demo reads these;
 * the optimiser's constants (AdamW 0.9/0.95/1e-5, weight decay 0.1, clipping 1.0, cosine to 10%) stay with the
 * optimiser ({@code llama/train}), which uses them for every stage alike.
 */
public final class Llama2Recipe {
    private Llama2Recipe() {}

    /** §2.2: pre-training peak learning rate (7B, 13B). */
    public static final double PRETRAIN_LEARNING_RATE = 3e-4;

    /** §3.1: SFT initial learning rate. */
    public static final double SFT_LEARNING_RATE = 2e-5;
    /** §3.1: SFT epochs. */
    public static final int SFT_EPOCHS = 2;
    /** §3.1: SFT batch size. */
    public static final int SFT_BATCH = 64;

    /** §3.2.2: reward-model maximum learning rate (5e-6 for 70B). */
    public static final double RM_LEARNING_RATE = 1e-5;
    /** §3.2.2: reward-model effective batch, in pairs. */
    public static final int RM_BATCH_PAIRS = 512;
    /** §3.2.2: reward-model warm-up, as a fraction of the total steps. */
    public static final double RM_WARMUP_FRACTION = 0.03;
    /** §3.2.2: reward-model warm-up, at least this many steps. */
    public static final int RM_MIN_WARMUP_STEPS = 5;

    /**
     * §3.2.2: the safety reward model trains on all safety data mixed with helpfulness data, 90 to 10; the
     * helpfulness model on all helpfulness data plus an equal amount of safety data.
     */
    public static final double SAFETY_MIX_SAFETY_SHARE = 0.9;

    /** §3.2.3: the safety threshold on the sigmoid scale of Rs (logit(0.15) ~ -1.73). */
    public static final double SAFETY_THRESHOLD = 0.15;

    /** §3.2.3: PPO KL penalty coefficient beta for 7B and 13B. */
    public static final double PPO_BETA = 0.01;
    /** §3.2.3: PPO KL penalty coefficient beta for 34B and 70B. */
    public static final double PPO_BETA_LARGE = 0.005;
    /** §3.2.3: PPO constant learning rate. */
    public static final double PPO_LEARNING_RATE = 1e-6;
    /** §3.2.3: responses per PPO iteration. */
    public static final int PPO_BATCH = 512;
    /** §3.2.3: responses per PPO gradient step (one step per mini-batch). */
    public static final int PPO_MINI_BATCH = 64;
    /** §3.2.3: the policy ratio's clip epsilon. */
    public static final double PPO_CLIP = 0.2;
}
