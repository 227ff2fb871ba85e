package dev.rlhf.trainer.domain;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.PpoRewards;
import dev.rlhf.llama.rl.PpoTrainer;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.TrainingCheckpoint;
import dev.rlhf.trainer.domain.RejectionSamplingSft.PolicyCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Online PPO (LLaMA 2 §3.2.3) on rollouts sampled by the services: each rollout carries the policy version that
 * sampled it; one more than {@code maxStaleness} versions behind the trainer is dropped and counted (bounded
 * staleness of the asynchronous loop). Once {@code batchSize} responses are buffered, their combined rewards Rc
 * (sigmoid scale, chosen by the sampler between safety and helpfulness) become {@code WHITEN(LOGIT(Rc))} over the
 * batch and one {@link PpoTrainer#iterate} runs against the frozen reference pi_0 ({@code initialPolicy}); every
 * {@code checkpointEvery} iterations a new policy version is written atomically, value head and AdamW moments
 * included (the policy service drops the head), with the {@link OffsetLedger} of the rollouts it includes.
 * <p>The "old" log-probabilities of the PPO ratio (and of the KL penalty) are the ones the policy service reported
 * when it sampled each token, i.e. those of the version that produced the rollout: a rollout one version behind
 * the trainer starts with ratio pi_theta / pi_old != 1 and the clip bounds how far the update moves from it. A
 * candidate without them (another producer) falls back to the trainer's current weights, which treats it as
 * on-policy; such responses are counted ({@link #withoutSamplingLogprobs()}).
 * Prompts are re-tokenized with the checkpoint's tokenizer (the chat format the policy service uses).
 */
public final class OnlinePpo implements AutoCloseable {
    static final String VERSION = RejectionSamplingSft.VERSION;
    static final String ITERATIONS = "ppo_iterations";
    static final String DROPPED_STALE = "dropped_stale";
    static final String WITHOUT_SAMPLING_LOGPROBS = "without_sampling_logprobs";

    public record Options(int batchSize, int checkpointEvery, int maxStaleness, PpoTrainer.Options ppo) {
        public Options {
            if (batchSize < 2 || checkpointEvery < 1 || maxStaleness < 0) {
                throw new IllegalArgumentException("invalid online PPO options: batch " + batchSize
                        + " (at least 2: rewards are whitened over it), checkpoint every " + checkpointEvery
                        + ", max staleness " + maxStaleness);
            }
        }
    }

    /**
     * One sampled response: its token ids, its combined reward Rc on the sigmoid scale and the per-token
     * log-probabilities (temperature 1) of the policy version that sampled it; empty when the producer did not
     * report them.
     */
    public record Candidate(int[] tokens, double combined, float[] logprobs) {
        public Candidate {
            if (logprobs.length != 0 && logprobs.length != tokens.length) {
                throw new IllegalArgumentException("a candidate needs one log-probability per token or none: "
                        + tokens.length + " tokens, " + logprobs.length + " log-probabilities");
            }
            for (int i = 0; i < logprobs.length; i++) {
                // A NaN, infinite or positive value would make the ratio non-finite and stop the training loop.
                if (!(logprobs[i] <= 0) || Float.isInfinite(logprobs[i])) {
                    throw new IllegalArgumentException("log-probability " + logprobs[i] + " of token " + i
                            + " is not a finite value <= 0");
                }
            }
        }

        /** A candidate whose sampling log-probabilities are unknown. */
        public Candidate(int[] tokens, double combined) {
            this(tokens, combined, new float[0]);
        }
    }

    /** One best-of-N round as the sampler published it. */
    public record Rollout(String id, String prompt, long policyVersion, List<Candidate> candidates) {}

    /** What the latest iteration did, for logs and metrics. */
    public record Stats(long iteration, int responses, double meanCombined, double meanKl, double policyLoss,
                        double valueLoss, double clipFraction) {}

    private record Buffered(int[] prompt, Candidate candidate) {}

    private final Path root;
    private final Options options;
    private final NDManager manager;
    private final LlamaTokenizer tokenizer;
    private final LlamaModel reference;
    private final PpoTrainer ppo;
    private final Path tokenizerDir;
    private final OffsetLedger ledger;
    private long version;
    private long iterations;
    private final PendingRecords<List<Buffered>> pending = new PendingRecords<>();
    private int bufferedResponses;
    private long droppedStale;
    private long droppedEmpty;
    private long withoutSamplingLogprobs;
    private Stats last;

    /**
     * Resumes from the newest complete checkpoint under {@code root} (with its value head and optimiser state when
     * it was written by PPO; a rejection-sampling checkpoint starts a fresh head and optimiser), or starts from
     * {@code initialPolicy} at version 0. The reference pi_0 is always {@code initialPolicy}.
     */
    public OnlinePpo(Path root, Path initialPolicy, Options options, NDManager parent) {
        this.root = root;
        this.options = options;
        this.manager = parent.newSubManager();
        LlamaTokenizer tok = null;
        try {
            Path newest = CheckpointDirs.prepare(root);
            this.reference = new LlamaModel(LlamaCheckpoint.load(initialPolicy, manager, ScoreHead.ABSENT));
            this.tokenizerDir = newest == null ? initialPolicy : newest;
            tok = LlamaTokenizer.load(tokenizerDir);
            if (newest == null) {
                this.ledger = new OffsetLedger();
                this.version = 0;
                this.iterations = 0;
                this.ppo = new PpoTrainer(new LlamaModel(LlamaCheckpoint.load(initialPolicy, manager,
                        ScoreHead.ABSENT)), reference, options.ppo(), tok.padId());
            } else {
                CheckpointDirs.State state = CheckpointDirs.state(newest, VERSION);
                this.ledger = state.ledger();
                this.version = state.version();
                JsonObject meta = state.metadata();
                this.iterations = meta.has(ITERATIONS) ? meta.get(ITERATIONS).getAsLong() : 0;
                // Lifetime counters continue across restarts, as the iterations do.
                this.droppedStale = meta.has(DROPPED_STALE) ? meta.get(DROPPED_STALE).getAsLong() : 0;
                this.withoutSamplingLogprobs = meta.has(WITHOUT_SAMPLING_LOGPROBS)
                        ? meta.get(WITHOUT_SAMPLING_LOGPROBS).getAsLong() : 0;
                TrainingCheckpoint.Resumed r = TrainingCheckpoint.load(newest, manager, ScoreHead.OPTIONAL);
                PpoTrainer.Options seeded = reseed(options.ppo(), version);
                if (r.model().weights().has(LlamaWeights.SCORE_HEAD)) {
                    this.ppo = new PpoTrainer(r.trainer(LearningRateSchedule.constant(options.ppo().learningRate())),
                            reference, seeded, tok.padId());
                } else {
                    // A rejection-sampling checkpoint: its AdamW moments do not cover a value head; start afresh.
                    r.optimizerState().values().forEach(ai.djl.ndarray.NDArray::close);
                    this.ppo = new PpoTrainer(r.model(), reference, seeded, tok.padId());
                }
            }
            this.tokenizer = tok;
        } catch (RuntimeException e) {
            if (tok != null) {
                tok.close();
            }
            manager.close();
            throw e;
        }
    }

    /** A restarted trainer must not replay the shuffles of its first iterations. */
    private static PpoTrainer.Options reseed(PpoTrainer.Options o, long version) {
        return new PpoTrainer.Options(o.learningRate(), o.miniBatchSize(), o.beta(), o.klEstimator(), o.gamma(),
                o.lambda(), o.clip(), o.valueClip(), o.valueCoef(), o.seed() * 1_000_003L + version);
    }

    public OffsetLedger ledger() {
        return ledger.copy();
    }

    public long version() {
        return version;
    }

    /** PPO iterations over the trainer's lifetime (restored from the checkpoint). */
    public long iterations() {
        return iterations;
    }

    /**
     * Rollouts dropped because their policy version was more than maxStaleness behind, over the trainer's lifetime
     * (restored from the checkpoint).
     */
    public long droppedStale() {
        return droppedStale;
    }

    /** Responses with no tokens (nothing for PPO to learn from). */
    public long droppedEmpty() {
        return droppedEmpty;
    }

    /**
     * Responses trained without the sampling policy's log-probabilities (the current weights stood in), over the
     * trainer's lifetime (restored from the checkpoint).
     */
    public long withoutSamplingLogprobs() {
        return withoutSamplingLogprobs;
    }

    /** Responses waiting for the next iteration. */
    public int buffered() {
        return bufferedResponses;
    }

    public Stats lastStats() {
        return last;
    }

    /**
     * Takes one rollout record; returns the new policy checkpoint when it completed an iteration that triggered
     * one. Records the ledger already includes (re-read after a restart) are ignored.
     */
    public Optional<PolicyCheckpoint> accept(int partition, long offset, Rollout rollout) {
        if (offset < ledger.nextOffset(partition)) {
            return Optional.empty();
        }
        if (version - rollout.policyVersion() > options.maxStaleness()) {
            droppedStale++;
            pending.skip(partition, offset);
            return Optional.empty();
        }
        int[] prompt = PromptFormat.chatPrompt(tokenizer, rollout.prompt());
        List<Buffered> usable = new ArrayList<>();
        for (Candidate c : rollout.candidates()) {
            if (c.tokens().length == 0 || !Double.isFinite(c.combined())) {
                droppedEmpty++;
            } else {
                usable.add(new Buffered(prompt, c));
            }
        }
        if (usable.isEmpty()) {
            pending.skip(partition, offset);
            return Optional.empty();
        }
        pending.add(partition, offset, usable);
        bufferedResponses += usable.size();
        if (bufferedResponses < options.batchSize()) {
            return Optional.empty();
        }
        iterate();
        if (iterations % options.checkpointEvery() == 0) {
            return Optional.of(checkpoint());
        }
        return Optional.empty();
    }

    private void iterate() {
        List<Buffered> batch = new ArrayList<>();
        pending.items().forEach(batch::addAll);
        double[] logits = new double[batch.size()];
        double combinedSum = 0;
        for (int i = 0; i < logits.length; i++) {
            double rc = batch.get(i).candidate().combined();
            combinedSum += rc;
            logits[i] = PpoRewards.logit(rc);
        }
        double[] whitened = PpoRewards.whiten(logits);
        List<PpoTrainer.Rollout> rollouts = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            Candidate c = batch.get(i).candidate();
            float[] sampled = c.logprobs().length == 0 ? null : c.logprobs();
            if (sampled == null) {
                withoutSamplingLogprobs++;
            }
            rollouts.add(new PpoTrainer.Rollout(batch.get(i).prompt(), c.tokens(), whitened[i], sampled));
        }
        PpoTrainer.IterationStats s = ppo.iterate(rollouts);
        iterations++;
        last = new Stats(iterations, batch.size(), combinedSum / batch.size(), s.meanKl(), s.policyLoss(),
                s.valueLoss(), s.clipFraction());
        pending.settle(ledger);
        bufferedResponses = 0;
    }

    /** Writes the next policy version (atomically) and returns it. */
    public PolicyCheckpoint checkpoint() {
        long next = version + 1;
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", "ppo");
        meta.addProperty(ITERATIONS, iterations);
        meta.addProperty(DROPPED_STALE, droppedStale);
        meta.addProperty(WITHOUT_SAMPLING_LOGPROBS, withoutSamplingLogprobs);
        if (last != null) {
            meta.addProperty("mean_combined", last.meanCombined());
            meta.addProperty("mean_kl", last.meanKl());
        }
        CheckpointDirs.Written w = CheckpointDirs.write(root, "policy", ppo.trainer(), next, VERSION, ledger, meta,
                tokenizerDir, d -> { });
        version = next;
        return new PolicyCheckpoint(next, w.dir(), w.manifestSha256(), ppo.steps(),
                last == null ? Double.NaN : last.policyLoss());
    }

    /** The checkpoint the current weights came from, or null when training started from the initial policy. */
    public Path newestCheckpoint() {
        return CheckpointDirs.newest(root);
    }

    @Override
    public void close() {
        ppo.close();
        tokenizer.close();
        reference.close();
        manager.close();
    }
}
