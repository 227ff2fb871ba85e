package dev.rlhf.launcher;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.rlhf.platform.config.ConfigSchema;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaKeys;
import dev.rlhf.platform.kafka.KafkaSecurity;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.DeadLetter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf dead-letter list|replay}: what the loops could not use, and sending it again once fixed. */
@Command(name = "dead-letter", mixinStandardHelpOptions = true,
        description = "Inspect rlhf.dead-letter and send its records again.",
        subcommands = {DeadLetterCommand.ListLetters.class, DeadLetterCommand.Replay.class})
final class DeadLetterCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (list or replay)");
    }

    /** What both subcommands select. */
    static class Selection {
        @Option(names = "--kafka", defaultValue = "127.0.0.1:9092",
                description = "Bootstrap servers (default: ${DEFAULT-VALUE}; `rlhf up` prints its own).")
        String kafka;

        @Option(names = "--source", description = "Only letters from this topic (e.g. rlhf.prompts).")
        String source;

        /** Every letter now on the topic (up to its end offsets when read), oldest first per partition. */
        List<ConsumerRecord<byte[], byte[]>> read(String client) {
            KafkaSecurity.install(ConfigSchema.of(client, KafkaKeys.ALL).loader().load());
            List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
            try (KafkaConsumer<byte[], byte[]> consumer = KafkaClients.bytesConsumer(
                    KafkaClients.assignedConsumerConfig(kafka, "rlhf-" + client))) {
                List<TopicPartition> parts = consumer.partitionsFor(Topics.DEAD_LETTER, Duration.ofSeconds(30))
                        .stream().map(p -> new TopicPartition(p.topic(), p.partition())).toList();
                consumer.assign(parts);
                consumer.seekToBeginning(parts);
                Map<TopicPartition, Long> end = consumer.endOffsets(parts, Duration.ofSeconds(30));
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (parts.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("could not read " + Topics.DEAD_LETTER + " to its end within "
                                + "60 s");
                    }
                    consumer.poll(Duration.ofMillis(500)).forEach(out::add);
                }
            }
            return out;
        }

        DeadLetter parse(ConsumerRecord<byte[], byte[]> r) {
            try {
                return DeadLetter.parseFrom(r.value());
            } catch (InvalidProtocolBufferException | NullPointerException e) {
                return null;
            }
        }

        boolean selected(DeadLetter letter) {
            return letter != null && (source == null || source.equals(letter.getSourceTopic()));
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "One line per dead letter: where it came from (topic partition/offset), when it failed, "
                    + "its size and why.")
    static final class ListLetters extends Selection implements Callable<Integer> {
        @Override
        public Integer call() {
            int shown = 0;
            for (ConsumerRecord<byte[], byte[]> r : read("dead-letter-list")) {
                DeadLetter letter = parse(r);
                if (letter == null) {
                    System.out.println(r.partition() + "/" + r.offset() + "  (not a DeadLetter record)");
                    continue;
                }
                if (!selected(letter)) {
                    continue;
                }
                System.out.printf(java.util.Locale.ROOT, "%s %d/%d  %s  %d bytes%s  %s%n", letter.getSourceTopic(),
                        letter.getPartition(), letter.getOffset(), Instant.ofEpochMilli(letter.getFailedAtMs()),
                        letter.getValueBytes() > 0 ? letter.getValueBytes() : letter.getValue().size(),
                        letter.getValueTruncated() ? " (truncated)" : "", letter.getError());
                shown++;
            }
            System.out.println(shown + " dead letter(s) in " + Topics.DEAD_LETTER);
            return 0;
        }
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = {"Send dead letters' original records (key and value) to their source topic again, e.g. "
                    + "prompts that failed while a service was down. Letters whose value was truncated are skipped and "
                    + "named. Replaying twice sends the records twice: select with --source and --offset.",
                "Letters stay on rlhf.dead-letter; a record that fails again gets a new letter."})
    static final class Replay extends Selection implements Callable<Integer> {
        @Option(names = "--offset", split = ",", paramLabel = "PARTITION/OFFSET",
                description = "Only these letters, by their source partition/offset (e.g. 0/42,1/7).")
        List<String> offsets;

        @Override
        public Integer call() throws Exception {
            List<DeadLetter> chosen = new ArrayList<>();
            int truncated = 0;
            for (ConsumerRecord<byte[], byte[]> r : read("dead-letter-replay")) {
                DeadLetter letter = parse(r);
                if (!selected(letter) || (offsets != null
                        && !offsets.contains(letter.getPartition() + "/" + letter.getOffset()))) {
                    continue;
                }
                if (letter.getValueTruncated()) {
                    System.err.println("dead-letter: skipping " + letter.getSourceTopic() + " " + letter.getPartition()
                            + "/" + letter.getOffset() + ": its value was truncated to " + letter.getValue().size()
                            + " of " + letter.getValueBytes() + " bytes");
                    truncated++;
                    continue;
                }
                if (letter.getSourceTopic().equals(Topics.DEAD_LETTER) || letter.getSourceTopic().isEmpty()) {
                    continue;
                }
                chosen.add(letter);
            }
            try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                    KafkaClients.producerConfig(kafka, "rlhf-dead-letter-replay"))) {
                List<Future<RecordMetadata>> acks = new ArrayList<>();
                for (DeadLetter letter : chosen) {
                    acks.add(producer.send(new ProducerRecord<>(letter.getSourceTopic(),
                            letter.getKey().isEmpty() ? null : letter.getKey().toByteArray(),
                            letter.getValue().toByteArray())));
                }
                for (Future<RecordMetadata> ack : acks) {
                    ack.get();
                }
            }
            System.out.println("replayed " + chosen.size() + " record(s)" + (truncated > 0 ? ", skipped " + truncated
                    + " truncated" : ""));
            return 0;
        }
    }
}
