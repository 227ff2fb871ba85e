package dev.rlhf.launcher;

import ai.djl.ndarray.NDManager;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.llama.reward.RewardModel;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The policy and the two reward models the RL commands work with (a picocli mixin). */
final class ModelsOptions {
    @Option(names = "--policy", required = true, description = "Policy checkpoint (the starting policy).")
    Path policy;

    @Option(names = "--rm-helpfulness", required = true, description = "Helpfulness reward model directory.")
    Path rmHelpfulness;

    @Option(names = "--rm-safety", required = true, description = "Safety reward model directory.")
    Path rmSafety;

    RewardModel helpfulness(NDManager manager) {
        return RewardModel.load(RewardKind.HELPFULNESS, 0, rmHelpfulness, manager);
    }

    RewardModel safety(NDManager manager) {
        return RewardModel.load(RewardKind.SAFETY, 0, rmSafety, manager);
    }
}
