package dev.rlhf.launcher.pipeline;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.launcher.LocalCluster;
import dev.rlhf.launcher.ProgressBar;
import dev.rlhf.launcher.RecordPublisher;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.io.AtomicDirectory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.RankingLoss;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.trainer.config.TrainerConfig;
import dev.rlhf.vocabulary.Llama2Recipe;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.world.PreferencePair;
import java.nio.file.Files;
import dev.rlhf.llama.lora.LoraConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * Reward models trained through the real services (LLaMA 2 §3.2.2; the learner is the trainer service's online
 * reward training, {@code trainer.reward-*}): the stage starts a {@link LocalCluster} whose reward services serve the
 * starting point (the SFT checkpoint with a zero scalar head, version 0) and whose trainer learns from {@code
 * rlhf.preferences}; it publishes the pairs (each epoch in a fresh seeded order), waits until the trainer has handled
 * every one and each reward service serves the last version announced on {@code rlhf.reward-updates}, and copies
 * those versions out (weights and tokenizer, without the optimiser state) as the stage's models.
 * <p>The recipe's data mixes become the trainer's other-kind shares: the helpfulness model takes as many safety
 * pairs as it has helpfulness pairs, the safety model helpfulness pairs making 10% of its data. Each model's
 * warm-up and cosine schedule spans the steps its share of the pairs makes (one epoch: the recipe's). A last
 * batch short of {@code batchSize} pairs waits for more data, as in the running service, and is not trained.
 */
public final class RewardLearningStage {
    private RewardLearningStage() {}

    /** @param safetyCalibration the safety model's calibration term weight ({@code trainer.reward-safety-calibration}) */
    public record Options(Set<RewardKind> kinds, RankingLoss.Margin margin, int batchSize, double learningRate,
                          double epochs, double safetyCalibration, long seed, int sequenceLength, String device,
                          Duration timeout, LoraConfig lora) {
        /** Full fine-tuning. */
        public Options(Set<RewardKind> kinds, RankingLoss.Margin margin, int batchSize, double learningRate,
                       double epochs, double safetyCalibration, long seed, int sequenceLength, String device,
                       Duration timeout) {
            this(kinds, margin, batchSize, learningRate, epochs, safetyCalibration, seed, sequenceLength, device,
                    timeout, null);
        }

        /** The same, training a LoRA adapter and the scalar head (null: every weight). */
        public Options withLora(LoraConfig adapter) {
            return new Options(kinds, margin, batchSize, learningRate, epochs, safetyCalibration, seed,
                    sequenceLength, device, timeout, adapter);
        }

        public Options {
            if (kinds.isEmpty() || batchSize < 1 || !(learningRate > 0) || !(epochs > 0) || !(safetyCalibration >= 0)
                    || sequenceLength < 2) {
                throw new IllegalArgumentException("invalid reward-model options: " + kinds + ", batch " + batchSize
                        + ", learning rate " + learningRate + ", epochs " + epochs + ", calibration "
                        + safetyCalibration);
            }
        }
    }

    /**
     * One trained model.
     * @param version the reward service's version of it (one per step)
     * @param pairs the pairs its steps trained on (its kind's and its share of the other's, every epoch)
     */
    public record Trained(Path model, long version, long steps, long pairs, double finalLoss, double unsafeWeight) {}

    /**
     * @param out where each kind's model goes (must not exist); kinds not in {@code o.kinds()} are ignored
     * @param workDir the cluster's directory (deleted first: a new broker must not meet an old trainer's ledgers)
     */
    public static Map<RewardKind, Trained> run(Path workDir, Path sft, Map<RewardKind, Path> out,
                                               List<PreferencePair> pairs, Options o, Consumer<String> log)
            throws Exception {
        long helpful = pairs.stream().filter(p -> p.kind() == RewardKind.HELPFULNESS).count();
        long safety = pairs.size() - helpful;
        for (RewardKind kind : o.kinds()) {
            if ((kind == RewardKind.HELPFULNESS ? helpful : safety) == 0) {
                throw new IllegalArgumentException("no " + kind.key() + " pairs to train the " + kind.key()
                        + " reward model on");
            }
        }
        double helpfulnessSafetyShare = safety == 0 ? 0 : Math.min(1, (double) helpful / safety);
        double safetyHelpfulnessShare = helpful == 0 ? 0 : Math.min(1, safety
                * (1 - Llama2Recipe.SAFETY_MIX_SAFETY_SHARE) / Llama2Recipe.SAFETY_MIX_SAFETY_SHARE / helpful);
        int helpfulnessSteps = steps(helpful + helpfulnessSafetyShare * safety, o);
        int safetySteps = steps(safety + safetyHelpfulnessShare * helpful, o);

        AtomicDirectory.deleteRecursively(workDir);
        // With LoRA the initial reward model is an adapter on the SFT model (its zero head inside the adapter), so
        // every version names the SFT model, not a copy in this work directory.
        Path init = ModelFactory.withScalarHead(sft, workDir.resolve("models/reward-init"), o.lora());
        TrainerConfig.Rewards recipe = TrainerConfig.Rewards.defaults();
        TrainerConfig.Rewards rewards = new TrainerConfig.Rewards(null, null, null, o.batchSize(), o.learningRate(),
                o.margin().name().toLowerCase(Locale.ROOT), o.safetyCalibration(), helpfulnessSafetyShare,
                safetyHelpfulnessShare, 1, helpfulnessSteps, safetySteps);
        LocalCluster.Settings settings = new LocalCluster.Settings(workDir, sft, init, init,
                SamplingParams.greedy(16), recipe.batchSize(), o.sequenceLength(), Llama2Recipe.SFT_LEARNING_RATE, o.device())
                .withOnlineRewards(new LocalCluster.OnlineRewards(o.kinds(), rewards)).withLora(o.lora());
        List<dev.rlhf.proto.v1.PreferencePair> records = epochs(RecordPublisher.preferencePairs(pairs, "pair"),
                o.epochs(), o.seed());
        Map<RewardKind, Trained> result = new EnumMap<>(RewardKind.class);
        try (LocalCluster cluster = LocalCluster.start(settings, log);
             KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                     KafkaClients.producerConfig(cluster.kafka(), "rlhf-demo-preferences"));
             ProgressBar bar = new ProgressBar("reward models", records.size(), "pairs")) {
            Map<RewardKind, ServedVersions> served = new EnumMap<>(RewardKind.class);
            for (RewardKind kind : o.kinds()) {
                served.put(kind, new ServedVersions(cluster, kind));
            }
            RecordPublisher.publish(producer, Topics.PREFERENCES, records,
                    dev.rlhf.proto.v1.PreferencePair::getId, () -> { });
            awaitHandled(cluster, records.size(), o.timeout(), bar);
            for (RewardKind kind : o.kinds()) {
                long version = cluster.trainer().rewardVersion(kind);
                if (version < 1) {
                    throw new IllegalStateException("the " + kind.key() + " reward model took no step: fewer than "
                            + o.batchSize() + " of the " + records.size() + " pairs were its data");
                }
                served.get(kind).await(version, o.timeout(), kind.key() + " reward-model training", v -> { });
                Path dir = workDir.resolve("reward-checkpoints").resolve(kind.key())
                        .resolve(String.format(Locale.ROOT, "%s-v%06d", kind.key(), version));
                result.put(kind, copyOut(kind, version, dir, out.get(kind)));
            }
        }
        return result;
    }

    /** Steps of one epoch of {@code pairs} (a share may be fractional), times the epochs; at least 1. */
    private static int steps(double pairs, Options o) {
        return (int) Math.max(1, Math.round(pairs * o.epochs() / o.batchSize()));
    }

    /**
     * The records of {@code epochs} passes, each pass in its own seeded order; a fractional last pass takes its
     * first part. A pair keeps its id in every pass, so the trainer's data mix (a hash of the id) picks it every time.
     */
    static <T> List<T> epochs(List<T> records, double epochs, long seed) {
        long total = Math.round(records.size() * epochs);
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(epochs + " epochs of " + records.size() + " pairs are too many");
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<T> out = new ArrayList<>((int) total);
        while (out.size() < total) {
            List<T> pass = new ArrayList<>(records);
            PreferenceData.shuffle(pass, random);
            out.addAll(pass.subList(0, (int) Math.min(pass.size(), total - out.size())));
        }
        return out;
    }

    /** Blocks until the trainer's reward loop has handled {@code count} records (trained, buffered or skipped). */
    private static void awaitHandled(LocalCluster cluster, long count, Duration timeout, ProgressBar bar)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long shown = 0;
        var loop = cluster.trainer().rewardLoop();
        while (loop.handled() < count) {
            Throwable failed = cluster.failure();
            if (failed != null) {
                throw new IllegalStateException("reward-model training stopped: " + failed.getMessage(), failed);
            }
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("reward-model training handled " + loop.handled() + " of " + count
                        + " pairs within " + timeout);
            }
            long now = loop.handled();
            if (now > shown) {
                bar.step(now - shown, "");
                shown = now;
            }
            // The loop has no completion signal per record; a short wait keeps the bar moving without spinning.
            Thread.sleep(50);
        }
        bar.step(count - shown, "");
    }

    /** The served checkpoint as a plain reward model: weights with the scalar head, tokenizer, training facts. */
    private static Trained copyOut(RewardKind kind, long version, Path checkpoint, Path out) {
        Manifest manifest = Manifest.read(checkpoint);
        JsonObject trained = manifest.metadata();
        long steps = manifest.step();
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", "reward-" + kind.key());
        meta.addProperty("trained_by", "trainer service, rlhf.preferences");
        meta.addProperty("version", version);
        for (String key : List.of("loss", "pairs_trained", "unsafe_weight", "learning_rate")) {
            if (trained.has(key)) {
                meta.add(key, trained.get(key));
            }
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaWeights weights = LlamaCheckpoint.load(checkpoint, manager, ScoreHead.REQUIRED);
            LlamaCheckpoint.save(weights, out, LlamaCheckpoint.SaveOptions.defaults(steps).withMetadata(meta)
                    .withExtraFiles(dir -> LlamaCheckpoint.copyTokenizerFiles(checkpoint, dir)));
        }
        if (!Files.isDirectory(out)) {
            throw new IllegalStateException("could not write " + out);
        }
        return new Trained(out, version, steps, trained.get("pairs_trained").getAsLong(),
                trained.get("loss").getAsDouble(), trained.get("unsafe_weight").getAsDouble());
    }
}
