package dev.rlhf.launcher;

import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.sampler.config.SamplerConfig;
import dev.rlhf.trainer.config.TrainerConfig;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code rlhf config}: every configuration key of every service, with its environment variable and default. */
@Command(name = "config", mixinStandardHelpOptions = true,
        description = {"List the configuration keys each service reads (defaults < config file < RLHF_* environment "
                + "variables), with defaults and descriptions. Unknown keys and bad values fail at start-up."})
final class ConfigCommand implements Callable<Integer> {
    static List<ConfigSchema> schemas() {
        return List.of(PolicyConfig.schema(), RewardConfig.schema(), SamplerConfig.schema(), TrainerConfig.schema());
    }

    @Override
    public Integer call() {
        for (ConfigSchema schema : schemas()) {
            System.out.println("== " + schema.prefix() + " ==");
            System.out.println(schema.describe());
        }
        return 0;
    }
}
