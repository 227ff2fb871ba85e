package dev.rlhf.launcher.pipeline;

import dev.rlhf.launcher.LocalCluster;
import dev.rlhf.launcher.ProgressBar;
import dev.rlhf.launcher.RecordPublisher;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.world.PromptRecord;
import java.nio.file.Files;
import dev.rlhf.llama.lora.LoraConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * Rejection-sampling iterations through the real services (LLaMA 2 §3.2.3): the stage starts the embedded broker
 * and the policy, two reward, sampler and trainer services on loopback ({@link LocalCluster}), and for each
 * iteration publishes the training prompts to {@code rlhf.prompts}; the sampler draws N samples per prompt from
 * the policy service, scores them with both reward services, keeps the best by the combined reward and writes it
 * to {@code rlhf.best}; the trainer fine-tunes on the best samples (keeping the top sample of every earlier
 * iteration per prompt in its pool) and publishes policy versions, which the policy service hot-swaps before the
 * next iteration samples.
 */
public final class RejectionSamplingStage {
    private RejectionSamplingStage() {}

    /** @param device where the services of the stage run their models: cpu, gpu or auto */
    public record Options(int iterations, int samplesPerPrompt, double temperature, int maxNewTokens,
                          int trainerBatchSize, int sequenceLength, double learningRate, Duration iterationTimeout,
                          long seed, Path replayData, int replayPerStep, LoraConfig lora, String device) {
        /** Full fine-tuning, on the CPU. */
        public Options(int iterations, int samplesPerPrompt, double temperature, int maxNewTokens,
                       int trainerBatchSize, int sequenceLength, double learningRate, Duration iterationTimeout,
                       long seed, Path replayData, int replayPerStep) {
            this(iterations, samplesPerPrompt, temperature, maxNewTokens, trainerBatchSize, sequenceLength,
                    learningRate, iterationTimeout, seed, replayData, replayPerStep, null, "cpu");
        }

        /** The same, training a LoRA adapter (null: every weight). */
        public Options withLora(LoraConfig adapter) {
            return new Options(iterations, samplesPerPrompt, temperature, maxNewTokens, trainerBatchSize,
                    sequenceLength, learningRate, iterationTimeout, seed, replayData, replayPerStep, adapter, device);
        }

        /** The same, on {@code device}. */
        public Options withDevice(String device) {
            return new Options(iterations, samplesPerPrompt, temperature, maxNewTokens, trainerBatchSize,
                    sequenceLength, learningRate, iterationTimeout, seed, replayData, replayPerStep, lora, device);
        }
    }

    /** The last policy version's checkpoint directory and the versions reached after each iteration. */
    public record Result(Path model, List<Long> versions) {}

    /** Copies the committed rlhf.best records (what the trainer learned from) to a JSONL file for the report. */
    static void exportBestSamples(String kafka, long expected, Path file) throws java.io.IOException {
        List<com.google.gson.JsonObject> rows = new ArrayList<>();
        long count = 0;
        try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> consumer = KafkaClients.bytesConsumer(
                KafkaClients.assignedConsumerConfig(kafka, "rlhf-demo-best-export"))) {
            List<org.apache.kafka.common.TopicPartition> parts = consumer.partitionsFor(Topics.BEST).stream()
                    .map(i -> new org.apache.kafka.common.TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (count < expected && System.nanoTime() < deadline) {
                for (var r : consumer.poll(Duration.ofMillis(500))) {
                    dev.rlhf.proto.v1.BestSample b = dev.rlhf.proto.v1.BestSample.parseFrom(r.value());
                    com.google.gson.JsonObject o = new com.google.gson.JsonObject();
                    o.addProperty("id", b.getPrompt().getId());
                    o.addProperty("prompt", b.getPrompt().getText());
                    o.addProperty("response", b.getResponse());
                    o.addProperty("combined", b.getScores().getCombined());
                    o.addProperty("helpfulness", b.getScores().getHelpfulness());
                    o.addProperty("safety", b.getScores().getSafety());
                    o.addProperty("policy_version", b.getPolicyVersion());
                    rows.add(o);
                    count++;
                }
            }
        }
        dev.rlhf.world.Jsonl.write(file, rows);
    }

    /**
     * Runs {@code o.iterations()} rounds over {@code prompts} (any prompts: only their id, text and safety tag are
     * sent; nothing here grades with the gold oracles).
     */
    public static Result run(Path workDir, Path sft, Path rmHelpfulness, Path rmSafety, List<PromptRecord> prompts,
                             Options o, Consumer<String> log) throws Exception {
        // Whole trainer steps only, so every iteration ends on a published version.
        int usable = prompts.size() / o.trainerBatchSize() * o.trainerBatchSize();
        if (usable == 0) {
            throw new IllegalArgumentException("need at least " + o.trainerBatchSize() + " prompts, got "
                    + prompts.size());
        }
        List<PromptRecord> used = prompts.subList(0, usable);
        long stepsPerIteration = usable / o.trainerBatchSize();
        List<Long> versions = new ArrayList<>();
        SamplingParams sampling = new SamplingParams(o.samplesPerPrompt(), o.maxNewTokens(), o.temperature(), 1.0, 0, o.seed(), java.util.List.of());
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Settings(workDir, sft, rmHelpfulness,
                rmSafety, sampling, o.trainerBatchSize(), o.sequenceLength(), o.learningRate(), o.device(),
                o.replayData(), o.replayPerStep()).withLora(o.lora()), log);
             KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                     KafkaClients.producerConfig(cluster.kafka(), "rlhf-demo-prompts"));
             ProgressBar bar = new ProgressBar("rs", (long) o.iterations() * usable, "prompts")) {
            ServedVersions served = new ServedVersions(cluster);
            for (int it = 1; it <= o.iterations(); it++) {
                List<Prompt> batch = new ArrayList<>(used.size());
                for (PromptRecord t : used) {
                    // A new id per iteration: the sampler derives its seed from it, so each iteration draws anew.
                    String id = String.format(Locale.ROOT, "rs%d-%s", it, t.id());
                    Prompt p = Prompt.newBuilder().setId(id).setText(t.text()).setSafetyTagged(t.safetyTagged())
                            .setSource("demo-rs-" + it).build();
                    batch.add(p);
                }
                RecordPublisher.prompts(producer, batch, () -> { });
                long target = it * stepsPerIteration;
                long[] seen = {served.served()};
                // Every prompt must yield a best sample for the iteration to end on its version.
                served.await(target, o.iterationTimeout(), "rejection sampling iteration " + it, v -> {
                    bar.step((v - seen[0]) * o.trainerBatchSize(), "policy v" + v);
                    seen[0] = v;
                });
                versions.add(served.served());
            }
            exportBestSamples(cluster.kafka(), (long) o.iterations() * usable, workDir.resolve("best-samples.jsonl"));
            Path newest = workDir.resolve("checkpoints").resolve(String.format(Locale.ROOT, "policy-v%06d",
                    versions.get(versions.size() - 1)));
            if (!Files.isDirectory(newest)) {
                throw new IllegalStateException("the trainer did not leave " + newest);
            }
            return new Result(newest, versions);
        }
    }
}
