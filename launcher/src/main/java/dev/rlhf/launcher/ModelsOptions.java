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

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto, for the models this command "
            + "loads and the services it starts (default: ${DEFAULT-VALUE}).")
    String device;

    /** A manager on {@link #device}; a bad or absent device is a one-line error. */
    NDManager manager() {
        return NDManager.newBaseManager(checkedDevice());
    }

    /** The device, checked before any work starts: an unknown name, or gpu without one, is a one-line error. */
    ai.djl.Device checkedDevice() {
        return dev.rlhf.llama.runtime.Devices.resolve(device);
    }

    RewardModel helpfulness(NDManager manager) {
        return RewardModel.load(RewardKind.HELPFULNESS, 0, rmHelpfulness, manager);
    }

    RewardModel safety(NDManager manager) {
        return RewardModel.load(RewardKind.SAFETY, 0, rmSafety, manager);
    }
}
