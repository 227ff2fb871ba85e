package dev.rlhf.launcher;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.ModelUpdate;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.world.PromptRecord;
import dev.rlhf.world.WorldData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rlhf prompts ...}: put prompts on Kafka. */
@Command(name = "prompts", mixinStandardHelpOptions = true, description = "Prompt tools.",
        subcommands = {PromptsCommand.Send.class})
final class PromptsCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (send)");
    }

    @Command(name = "send", mixinStandardHelpOptions = true,
            description = {"Publish prompts from a JSONL file to rlhf.prompts (key = id).",
                "Each line: {\"id\": ..., \"text\": ..., \"safety_tagged\": false, \"family\": ...}; \"prompt\" is "
                        + "accepted for \"text\"; a missing id becomes <file name>-<line number>; the source is the "
                        + "file's name. A bad line is reported as file:line: reason."})
    static final class Send implements Callable<Integer> {
        @Parameters(index = "0", description = "JSONL file of prompts.")
        Path file;

        @Option(names = "--kafka", defaultValue = "127.0.0.1:9092",
                description = "Bootstrap servers (default: ${DEFAULT-VALUE}; `rlhf up` prints its own).")
        String kafka;

        @Option(names = "--await-policy-version", paramLabel = "DURATION",
                description = "After sending, wait this long (30s, 20m, 1h) for the trainer to publish a policy "
                        + "version newer than the newest on rlhf.policy-updates before sending, then print it; exit 1 "
                        + "if none comes (the smoke-test Job's end-to-end check).")
        String awaitPolicyVersion;

        @Override
        public Integer call() throws Exception {
            Duration wait = awaitPolicyVersion == null ? null : ConfigKey.parseDuration(awaitPolicyVersion);
            if (wait == null) {
                RecordPublisher.send(kafka, "prompts", Topics.PROMPTS, read(file), Prompt::getId, "prompts");
                return 0;
            }
            List<Prompt> prompts = read(file);
            try (KafkaConsumer<byte[], byte[]> updates = KafkaClients.bytesConsumer(
                    KafkaClients.assignedConsumerConfig(kafka, "prompts-await-version"))) {
                List<TopicPartition> partitions = updates.partitionsFor(Topics.POLICY_UPDATES, Duration.ofSeconds(60))
                        .stream().map(p -> new TopicPartition(Topics.POLICY_UPDATES, p.partition())).toList();
                updates.assign(partitions);
                updates.seekToBeginning(partitions);
                Map<TopicPartition, Long> end = updates.endOffsets(partitions);
                long before = -1;
                while (!end.entrySet().stream().allMatch(e -> updates.position(e.getKey()) >= e.getValue())) {
                    before = Math.max(before, newestPolicy(updates.poll(Duration.ofMillis(200))).map(
                            ModelUpdate::getVersion).orElse(-1L));
                }
                RecordPublisher.send(kafka, "prompts", Topics.PROMPTS, prompts, Prompt::getId, "prompts");
                System.err.println("prompts: waiting up to " + awaitPolicyVersion + " for a policy version newer than "
                        + (before < 0 ? "none" : before));
                long deadline = System.nanoTime() + wait.toNanos();
                while (System.nanoTime() < deadline) {
                    Optional<ModelUpdate> u = newestPolicy(updates.poll(Duration.ofMillis(500)));
                    if (u.isPresent() && u.get().getVersion() > before) {
                        System.out.println("policy version " + u.get().getVersion() + " published (" + u.get().getUri()
                                + ")");
                        return 0;
                    }
                }
                throw new IllegalStateException("no policy version newer than " + (before < 0 ? "none" : before)
                        + " was published within " + awaitPolicyVersion);
            }
        }

        /** The newest policy update among the records (undecodable ones skipped). */
        private static Optional<ModelUpdate> newestPolicy(ConsumerRecords<byte[], byte[]> records) {
            ModelUpdate newest = null;
            for (ConsumerRecord<byte[], byte[]> r : records) {
                try {
                    ModelUpdate u = ModelUpdate.parseFrom(r.value());
                    if ((u.getModel().isEmpty() || u.getModel().equals("policy"))
                            && (newest == null || u.getVersion() > newest.getVersion())) {
                        newest = u;
                    }
                } catch (InvalidProtocolBufferException | NullPointerException e) {
                    // not an update this command can read: not a new version either
                }
            }
            return Optional.ofNullable(newest);
        }

        /** The world's prompt format ({@link WorldData#readPrompts}): every error names the file and line. */
        static List<Prompt> read(Path file) throws Exception {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("prompt file not found: " + file);
            }
            List<Prompt> out = new ArrayList<>();
            for (PromptRecord p : WorldData.readPrompts(file)) {
                out.add(Prompt.newBuilder()
                        .setId(p.id())
                        .setText(p.text())
                        .setSafetyTagged(p.safetyTagged())
                        .setFamily(PromptRecord.UNKNOWN_FAMILY.equals(p.family()) ? "" : p.family())
                        .setSource(file.getFileName().toString())
                        .build());
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException(file + ": no prompts");
            }
            return out;
        }
    }
}
