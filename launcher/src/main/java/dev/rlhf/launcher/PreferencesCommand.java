package dev.rlhf.launcher;

import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.world.WorldData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rlhf preferences ...}: put preference pairs on Kafka for online reward-model training. */
@Command(name = "preferences", mixinStandardHelpOptions = true, description = "Preference-pair tools.",
        subcommands = {PreferencesCommand.Send.class})
final class PreferencesCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (send)");
    }

    @Command(name = "send", mixinStandardHelpOptions = true,
            description = {"Publish preference pairs from a JSONL file to rlhf.preferences (key = id), where a "
                    + "trainer with online reward models (trainer.reward-initial-*, `rlhf up --online-rewards`) "
                    + "learns from them.",
                "Each line: {\"prompt\", \"chosen\", \"rejected\", \"rating\", \"chosen_safe\", \"rejected_safe\", "
                        + "\"kind\"} (world/README.md) or HH-RLHF {\"chosen\", \"rejected\"}; the n-th pair gets "
                        + "the id <file name>-<n>."})
    static final class Send implements Callable<Integer> {
        @Parameters(index = "0", description = "JSONL file of preference pairs.")
        Path file;

        @Option(names = "--kafka", defaultValue = "127.0.0.1:9092",
                description = "Bootstrap servers (default: ${DEFAULT-VALUE}; `rlhf up` prints its own).")
        String kafka;

        @Override
        public Integer call() throws Exception {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("preference file not found: " + file);
            }
            List<dev.rlhf.proto.v1.PreferencePair> pairs = RecordPublisher.preferencePairs(WorldData.readPreferences(file),
                    file.getFileName().toString());
            if (pairs.isEmpty()) {
                throw new IllegalArgumentException(file + ": no preference pairs");
            }
            RecordPublisher.send(kafka, "preferences", Topics.PREFERENCES, pairs,
                    dev.rlhf.proto.v1.PreferencePair::getId, "preference pairs");
            return 0;
        }
    }
}
