package dev.rlhf.platform.kafka;

import java.util.List;
import java.util.Set;

/** Names of the rlhf Kafka topics (DESIGN.md section 3); values are rlhf.v1 Protobuf records. */
public final class Topics {

    /** {@code Prompt}, key = prompt id. */
    public static final String PROMPTS = "rlhf.prompts";
    /** {@code Rollout} with all N candidates, key = prompt id. */
    public static final String ROLLOUTS = "rlhf.rollouts";
    /** {@code BestSample} (best of N), key = prompt id. */
    public static final String BEST = "rlhf.best";
    /** {@code PreferencePair}, key = pair id. */
    public static final String PREFERENCES = "rlhf.preferences";
    /** {@code ModelUpdate} for the policy, key = model name; compacted so a new reader gets the latest version. */
    public static final String POLICY_UPDATES = "rlhf.policy-updates";
    /** {@code ModelUpdate} for reward models, key = model name; compacted like the policy updates. */
    public static final String REWARD_UPDATES = "rlhf.reward-updates";
    /**
     * {@code ModelUpdate} naming the version a serving instance holds, key = {@code <model>/<instance>}; compacted,
     * with a tombstone when the instance stops: the trainer's retention never deletes what is served.
     */
    public static final String SERVING = "rlhf.serving";
    /** {@code DeadLetter}: records that could not be decoded or processed, with the original bytes. */
    public static final String DEAD_LETTER = "rlhf.dead-letter";

    /** Every topic, in pipeline order. */
    public static final List<String> ALL =
            List.of(PROMPTS, ROLLOUTS, BEST, PREFERENCES, POLICY_UPDATES, REWARD_UPDATES, SERVING, DEAD_LETTER);

    /** Topics that must have {@code cleanup.policy=compact}: only the latest record per key matters. */
    public static final Set<String> COMPACTED = Set.of(POLICY_UPDATES, REWARD_UPDATES, SERVING);

    private Topics() {
    }
}
