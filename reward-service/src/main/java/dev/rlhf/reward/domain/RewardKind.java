package dev.rlhf.reward.domain;

/** Which of the two LLaMA 2 reward models (§3.2.2) a reward service serves. */
public enum RewardKind {
    HELPFULNESS,
    SAFETY;

    public static RewardKind parse(String s) {
        for (RewardKind k : values()) {
            if (k.name().equalsIgnoreCase(s)) {
                return k;
            }
        }
        throw new IllegalArgumentException("reward kind must be helpfulness or safety, got '" + s + "'");
    }
}
