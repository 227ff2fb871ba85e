package dev.rlhf.trainer.domain;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.LlamaWeights;
import dev.rlhf.llama.rl.AdaptiveKlController;
import dev.rlhf.llama.rl.PpoRewards;
import dev.rlhf.llama.rl.PpoTrainer;
import dev.rlhf.llama.train.ScalarLog;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.llama.data.JsonlExamples;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.TrainingExample;
import dev.rlhf.llama.train.TrainingCheckpoint;
import dev.rlhf.trainer.domain.RejectionSamplingSft.PolicyCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Online policy-gradient RL (LLaMA 2 §3.2.3 PPO, or GRPO/RLOO by the options' {@link PpoTrainer.Estimator}) on
 * rollouts sampled by the services: each rollout carries the policy version that sampled it; one more than
 * {@code maxStaleness} versions behind the trainer is dropped and counted (bounded staleness of the asynchronous
 * loop). Once {@code batchSize} responses are buffered, one {@link PpoTrainer#iterate} runs against the frozen
 * reference pi_0; every {@code checkpointEvery} iterations a new policy version is written atomically, value head
 * and AdamW moments included (the policy service drops the head), with the {@link OffsetLedger} of the rollouts it
 * includes.
 * <p>The reward is the raw logit of the reward model the sampler's combination chose (LLaMA 2: LOGIT(Rc), with
 * no sigmoid round trip), whitened over the batch for PPO; for GRPO/RLOO the N candidates of one rollout are
 * the group. A response cut at max_new_tokens can lose {@code missingEosPenalty} (ours, as TRL's
 * {@code missing_eos_penalty}).
 * <p>The "old" log-probabilities of the ratio (and of the KL penalty) are the ones the policy service reported
 * when it sampled each token, at the sampling temperature; the trainer evaluates its own policy and pi_0 at that
 * temperature too. Rollouts sampled greedily or with top-k/top-p filtering have a distribution it cannot
 * reproduce and are refused and counted ({@link #refusedSampling()}). A candidate without log-probabilities
 * falls back to the trainer's current weights, which treats it as on-policy; such responses are counted
 * ({@link #withoutSamplingLogprobs()}).
 * <p>The policy is trained on the token ids the policy service sampled (prompt and response, EOS included when
 * sampled); only rollouts of producers that did not report the prompt ids are tokenized again.
 * <p>pi_0 is the policy PPO started from: the newest checkpoint under {@code root} when PPO first starts there
 * (a rejection-sampling version), else {@code initialPolicy}. It is recorded in every PPO checkpoint's metadata
 * and read back from there on restart.
 */
public final class OnlinePpo implements AutoCloseable {
    static final String VERSION = RejectionSamplingSft.VERSION;
    static final String ITERATIONS = "ppo_iterations";
    static final String DROPPED_STALE = "dropped_stale";
    static final String WITHOUT_SAMPLING_LOGPROBS = "without_sampling_logprobs";
    static final String REFUSED_SAMPLING = "refused_sampling";
    static final String SAMPLED_TOKENS = "sampled_tokens";
    static final String KL_COEF = "kl_coef";
    static final String REFERENCE = "ppo_reference";
    static final String REFERENCE_SHA256 = "ppo_reference_manifest_sha256";

    /**
     * @param missingEosPenalty subtracted from the raw reward of a response cut at max_new_tokens (0 = off)
     * @param ptx demonstrations for PPO-ptx ({@link PpoTrainer#withPtx}; ours, as InstructGPT): {@code ptxPerStep}
     *            of them packed into every gradient step, weighted by {@code ptxCoef}; step s takes
     *            ptx[(s * k + i) mod size], so a restarted trainer mixes in what an uninterrupted one would
     * @param klTarget the mean sequence KL an {@link AdaptiveKlController} steers beta towards (0 = beta fixed, the
     *                 recipe), with {@code klHorizon} its horizon in responses
     * @param valueInit a reward checkpoint whose scalar head starts the value head (InstructGPT initialises the value
     *                  function from the reward model); null: a zero head
     */
    public record Options(int batchSize, int checkpointEvery, int maxStaleness, PpoTrainer.Options ppo,
                          double missingEosPenalty, List<JsonlExamples.TextExample> ptx, int ptxPerStep,
                          double ptxCoef, int sequenceLength, double klTarget, double klHorizon, Path valueInit) {
        public Options {
            if (batchSize < 2 || checkpointEvery < 1 || maxStaleness < 0 || !(missingEosPenalty >= 0)
                    || ptxPerStep < 0 || !(ptxCoef >= 0) || sequenceLength < 2 || !(klTarget >= 0)
                    || !(klHorizon > 0)) {
                throw new IllegalArgumentException("invalid online PPO options: batch " + batchSize
                        + " (at least 2: rewards are whitened over it), checkpoint every " + checkpointEvery
                        + ", max staleness " + maxStaleness + ", missing-EOS penalty " + missingEosPenalty
                        + ", ptx " + ptxPerStep + " x " + ptxCoef + ", sequence length " + sequenceLength
                        + ", KL target " + klTarget + " over " + klHorizon);
            }
            ptx = ptx == null ? List.of() : List.copyOf(ptx);
            if (ptxPerStep > 0 && ptxCoef > 0 && ptx.isEmpty()) {
                throw new IllegalArgumentException("ptx-per-step " + ptxPerStep + " but no demonstrations");
            }
        }

        public Options(int batchSize, int checkpointEvery, int maxStaleness, PpoTrainer.Options ppo) {
            this(batchSize, checkpointEvery, maxStaleness, ppo, 0, List.of(), 0, 0, 512, 0, 10_000, null);
        }

        boolean usesPtx() {
            return ptxPerStep > 0 && ptxCoef > 0;
        }
    }

    /**
     * One sampled response: its token ids (ending with EOS when it ended there), its combined reward Rc on the
     * sigmoid scale, the raw logit of that reward (NaN when the producer did not report it: then logit(Rc)), the
     * per-token log-probabilities at the sampling temperature of the policy version that sampled it (empty when
     * unknown), and whether it was cut at max_new_tokens.
     */
    public record Candidate(int[] tokens, double combined, float[] logprobs, double rawReward, boolean truncated) {
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
            if (Double.isInfinite(rawReward)) {
                throw new IllegalArgumentException("raw reward " + rawReward + " is not finite");
            }
        }

        public Candidate(int[] tokens, double combined, float[] logprobs) {
            this(tokens, combined, logprobs, Double.NaN, false);
        }

        /** A candidate whose sampling log-probabilities are unknown. */
        public Candidate(int[] tokens, double combined) {
            this(tokens, combined, new float[0]);
        }

        /** The reward on the logit scale: the raw score when known, else LOGIT(Rc). */
        double logitReward() {
            return Double.isNaN(rawReward) ? PpoRewards.logit(combined) : rawReward;
        }
    }

    /** How the rollout's candidates were sampled; top-k 0 and top-p 1 mean no filtering. */
    public record Sampling(double temperature, double topP, int topK) {
        public static final Sampling UNFILTERED_T1 = new Sampling(1, 1, 0);

        /** Why the trainer cannot reproduce this distribution, or null when it can. */
        String refusal() {
            if (!(temperature > 0) || Double.isInfinite(temperature)) {
                return "temperature " + temperature + " (greedy or invalid)";
            }
            if (topK > 0 || topP < 1) {
                return "top-k " + topK + " / top-p " + topP + " filtering";
            }
            return null;
        }
    }

    /**
     * One best-of-N round as the sampler published it; {@code promptIds} as the policy tokenized the prompt (empty
     * when the producer did not report them: the prompt text is then tokenized here).
     */
    public record Rollout(String id, String prompt, int[] promptIds, long policyVersion, Sampling sampling,
                          List<Candidate> candidates) {
        /** A rollout sampled at temperature 1 without filtering, whose prompt ids are unknown. */
        public Rollout(String id, String prompt, long policyVersion, List<Candidate> candidates) {
            this(id, prompt, new int[0], policyVersion, Sampling.UNFILTERED_T1, candidates);
        }
    }

    /** What the latest iteration did, for logs and metrics. */
    public record Stats(long iteration, int responses, double meanCombined, double meanKl, double policyLoss,
                        double valueLoss, double clipFraction, double approxKl, double truncatedRate,
                        double ptxLoss) {}

    private record Buffered(int[] prompt, Candidate candidate, double temperature, int group) {}

    private final Path root;
    private final Options options;
    private final NDManager manager;
    private final LlamaTokenizer tokenizer;
    private final LlamaModel reference;
    private final Path referenceDir;
    private final String referenceSha256;
    private final PpoTrainer ppo;
    private final Path tokenizerDir;
    private final OffsetLedger ledger;
    /** Per-step scalars for TensorBoard and scalars.jsonl, in {@code <root>/tensorboard}. */
    private final ScalarLog scalars;
    private long version;
    private long iterations;
    private final PendingRecords<List<Buffered>> pending = new PendingRecords<>();
    private int bufferedResponses;
    private long droppedStale;
    private long droppedEmpty;
    private long withoutSamplingLogprobs;
    private long refusedSampling;
    private long sampledTokens;
    /** Null when beta is fixed. */
    private final AdaptiveKlController klController;
    private int groups;
    private Stats last;

    /**
     * Resumes from the newest complete checkpoint under {@code root} (with its value head and optimiser state when
     * it was written by PPO; a rejection-sampling checkpoint starts a fresh head and optimiser), or starts from
     * {@code initialPolicy} at version 0. The reference pi_0 is the policy PPO started from (see the class
     * comment).
     */
    public OnlinePpo(Path root, Path initialPolicy, Options options, NDManager parent) {
        this(root, initialPolicy, options, null, parent);
    }

    /**
     * As above; with {@code lora} a fresh start trains a LoRA adapter (and the value head) on the initial policy.
     * Whenever the policy's adapter sits on the reference itself, pi_0 is the policy with its adapter switched
     * off, sharing every tensor, so there is no second copy of the model.
     */
    public OnlinePpo(Path root, Path initialPolicy, Options options, dev.rlhf.llama.lora.LoraConfig lora,
                     NDManager parent) {
        this.root = root;
        this.scalars = ScalarLog.openOnFirstWrite(root.resolve("tensorboard"));
        this.options = options;
        this.manager = parent.newSubManager();
        LlamaTokenizer tok = null;
        try {
            Path newest = CheckpointDirs.prepare(root);
            this.tokenizerDir = newest == null ? initialPolicy : newest;
            tok = LlamaTokenizer.load(tokenizerDir);
            CheckpointDirs.State state = newest == null ? null : CheckpointDirs.state(newest, VERSION);
            JsonObject meta = state == null ? new JsonObject() : state.metadata();
            if (meta.has(REFERENCE)) {
                this.referenceDir = Path.of(meta.get(REFERENCE).getAsString());
                this.referenceSha256 = meta.has(REFERENCE_SHA256) ? meta.get(REFERENCE_SHA256).getAsString() : "";
                String now = manifestSha256(referenceDir);
                if (!referenceSha256.isEmpty() && !referenceSha256.equals(now)) {
                    throw new IllegalStateException("the PPO reference " + referenceDir + " recorded in " + newest
                            + " has changed (manifest sha256 " + now + ", recorded " + referenceSha256 + ")");
                }
            } else {
                this.referenceDir = (newest == null ? initialPolicy : newest).toAbsolutePath();
                this.referenceSha256 = manifestSha256(referenceDir);
            }
            boolean valueHead = options.ppo().estimator().usesValueHead();
            if (newest == null) {
                this.ledger = new OffsetLedger();
                this.version = 0;
                this.iterations = 0;
                LlamaModel policy = new LlamaModel(LlamaCheckpoint.loadToTrain(initialPolicy, manager,
                        ScoreHead.ABSENT, lora, 0));
                this.reference = reference(policy, referenceDir, manager);
                this.ppo = new PpoTrainer(withInitialValueHead(policy), reference, options.ppo(), tok.padId());
            } else {
                this.ledger = state.ledger();
                this.version = state.version();
                this.iterations = meta.has(ITERATIONS) ? meta.get(ITERATIONS).getAsLong() : 0;
                // Lifetime counters continue across restarts, as the iterations do.
                this.droppedStale = longOr(meta, DROPPED_STALE);
                this.withoutSamplingLogprobs = longOr(meta, WITHOUT_SAMPLING_LOGPROBS);
                this.refusedSampling = longOr(meta, REFUSED_SAMPLING);
                this.sampledTokens = longOr(meta, SAMPLED_TOKENS);
                TrainingCheckpoint.Resumed r = TrainingCheckpoint.load(newest, manager, ScoreHead.OPTIONAL);
                this.reference = reference(r.model(), referenceDir, manager);
                PpoTrainer.Options seeded = options.ppo().withSeed(options.ppo().seed() * 1_000_003L + version);
                boolean hasHead = r.model().weights().has(LlamaWeights.SCORE_HEAD);
                if (meta.has(REFERENCE) && hasHead == valueHead) {
                    this.ppo = new PpoTrainer(r.trainer(LearningRateSchedule.constant(options.ppo().learningRate())),
                            reference, seeded, tok.padId());
                } else {
                    // A rejection-sampling checkpoint (or one of another estimator): its AdamW moments do not
                    // match this learner's parameters; keep the weights, start the optimiser afresh.
                    r.optimizerState().values().forEach(ai.djl.ndarray.NDArray::close);
                    if (!valueHead) {
                        r.model().weights().remove(LlamaWeights.SCORE_HEAD);
                    }
                    this.ppo = new PpoTrainer(withInitialValueHead(r.model()), reference, seeded, tok.padId());
                }
            }
            this.tokenizer = tok;
            // The coefficient an adaptive controller reached continues across restarts.
            double beta = meta.has(KL_COEF) && options.klTarget() > 0 ? meta.get(KL_COEF).getAsDouble()
                    : options.ppo().beta();
            ppo.setBeta(beta);
            this.klController = options.klTarget() > 0
                    ? new AdaptiveKlController(beta, options.klTarget(), options.klHorizon()) : null;
            if (options.usesPtx()) {
                int rowLength = Math.min(options.sequenceLength(), ppo.policy().config().maxPositionEmbeddings());
                int k = options.ptxPerStep();
                List<JsonlExamples.TextExample> demos = options.ptx();
                LlamaTokenizer t = tok;
                ppo.withPtx(step -> {
                    List<TrainingExample> chosen = new ArrayList<>(k);
                    for (int i = 0; i < k; i++) {
                        JsonlExamples.TextExample d = demos.get((int) ((step * k + i) % demos.size()));
                        chosen.add(new TrainingExample(t.encode(d.prompt()), t.encode(d.response())));
                    }
                    return Packing.pack(chosen, rowLength, t.bosId(), t.sepId(), t.eosId(), t.padId());
                }, options.ptxCoef());
            }
        } catch (RuntimeException e) {
            if (tok != null) {
                tok.close();
            }
            manager.close();
            throw e;
        }
    }

    /**
     * pi_0: the policy with its adapter switched off when that adapter sits on {@code referenceDir} itself (the
     * same fingerprint), else {@code referenceDir} loaded on its own.
     */
    private static LlamaModel reference(LlamaModel policy, Path referenceDir, NDManager manager) {
        var adapter = policy.weights().adapter();
        if (adapter != null && adapter.baseSha256() != null
                && !dev.rlhf.llama.checkpoint.AdapterCheckpoint.isAdapter(referenceDir)
                && adapter.baseSha256().equals(dev.rlhf.llama.checkpoint.AdapterCheckpoint.baseFingerprint(referenceDir))) {
            return policy.withoutAdapter();
        }
        return new LlamaModel(LlamaCheckpoint.load(referenceDir, manager, ScoreHead.ABSENT));
    }

    /** Whether pi_0 shares the policy's tensors (LoRA with the adapter off) rather than holding its own copy. */
    public boolean referenceSharesPolicyWeights() {
        return reference.weights() == ppo.policy().weights();
    }

    /** Puts the configured reward model's scalar head on a policy that has none (PPO only). */
    private LlamaModel withInitialValueHead(LlamaModel policy) {
        if (options.valueInit() == null || !options.ppo().estimator().usesValueHead()
                || policy.weights().has(LlamaWeights.SCORE_HEAD)) {
            return policy;
        }
        try (NDManager scratch = manager.newSubManager()) {
            ai.djl.ndarray.NDArray head = LlamaCheckpoint.load(options.valueInit(), scratch, ScoreHead.REQUIRED)
                    .get(LlamaWeights.SCORE_HEAD);
            ai.djl.ndarray.types.Shape wanted = new ai.djl.ndarray.types.Shape(1, policy.config().hiddenSize());
            if (!head.getShape().equals(wanted)) {
                throw new IllegalArgumentException("the value head from " + options.valueInit() + " has shape "
                        + head.getShape() + "; the policy needs " + wanted);
            }
            ai.djl.ndarray.NDArray copy = head.toType(policy.weights().dataType(), true);
            copy.attach(policy.weights().manager());
            policy.weights().put(LlamaWeights.SCORE_HEAD, copy);
        }
        return policy;
    }

    private static long longOr(JsonObject meta, String key) {
        return meta.has(key) ? meta.get(key).getAsLong() : 0;
    }

    private static String manifestSha256(Path dir) {
        Path manifest = dir.resolve(dev.rlhf.llama.io.Manifest.FILE_NAME);
        if (!java.nio.file.Files.isRegularFile(manifest)) {
            throw new IllegalStateException("the PPO reference " + dir + " has no " + manifest.getFileName());
        }
        return dev.rlhf.llama.io.Manifest.sha256(manifest);
    }

    /** The KL coefficient the next iteration uses (moved by the adaptive controller when one is configured). */
    public double beta() {
        return ppo.beta();
    }

    /** The checkpoint pi_0 was loaded from (it must outlive any pruning of old versions). */
    public Path referenceDir() {
        return referenceDir;
    }

    /** A record that could not be used (dead-lettered): settled with the next step, so a restart skips it too. */
    public void skip(int partition, long offset) {
        if (offset >= ledger.nextOffset(partition)) {
            pending.skip(partition, offset);
        }
    }

    /** Binds the ledger to the broker's log; the previous cluster id when it was another's ({@link OffsetLedger#adoptCluster}). */
    public String adoptCluster(String clusterId) {
        return ledger.adoptCluster(clusterId);
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
        if (rollout.sampling().refusal() != null) {
            // The ratio would compare pi_theta with a distribution it never equals: never mix the two silently.
            refusedSampling++;
            pending.skip(partition, offset);
            return Optional.empty();
        }
        int[] prompt = rollout.promptIds().length > 0 ? rollout.promptIds()
                : PromptFormat.chatPrompt(tokenizer, rollout.prompt());
        int vocab = ppo.policy().config().vocabSize();
        checkIds(rollout.id(), "prompt", prompt, vocab);
        List<Buffered> usable = new ArrayList<>();
        int group = groups++;
        for (Candidate c : rollout.candidates()) {
            if (c.tokens().length == 0 || !Double.isFinite(c.combined())) {
                droppedEmpty++;
            } else {
                checkIds(rollout.id(), "response", c.tokens(), vocab);
                usable.add(new Buffered(prompt, c, rollout.sampling().temperature(), group));
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

    private static void checkIds(String id, String what, int[] ids, int vocab) {
        for (int t : ids) {
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("rollout " + id + ": " + what + " token id " + t
                        + " outside the policy's vocabulary [0, " + vocab + ")");
            }
        }
    }

    private void iterate() {
        List<Buffered> batch = new ArrayList<>();
        pending.items().forEach(batch::addAll);
        double[] rewards = new double[batch.size()];
        double combinedSum = 0;
        int truncated = 0;
        for (int i = 0; i < rewards.length; i++) {
            Candidate c = batch.get(i).candidate();
            combinedSum += c.combined();
            rewards[i] = c.logitReward() - (c.truncated() ? options.missingEosPenalty() : 0);
            truncated += c.truncated() ? 1 : 0;
            sampledTokens += c.tokens().length;
        }
        boolean gae = options.ppo().estimator() == PpoTrainer.Estimator.GAE;
        double[] scalar = gae ? PpoRewards.whiten(rewards) : rewards; // GRPO/RLOO normalise within groups
        List<PpoTrainer.Rollout> rollouts = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            Buffered b = batch.get(i);
            float[] sampled = b.candidate().logprobs().length == 0 ? null : b.candidate().logprobs();
            if (sampled == null) {
                withoutSamplingLogprobs++;
            }
            rollouts.add(new PpoTrainer.Rollout(b.prompt(), b.candidate().tokens(), scalar[i], sampled,
                    b.temperature(), b.group()));
        }
        PpoTrainer.IterationStats s = ppo.iterate(rollouts);
        iterations++;
        if (klController != null) {
            ppo.setBeta(klController.update(s.meanKl(), batch.size()));
        }
        last = new Stats(iterations, batch.size(), combinedSum / batch.size(), s.meanKl(), s.policyLoss(),
                s.valueLoss(), s.clipFraction(), s.approxKl(), (double) truncated / batch.size(), s.ptxLoss());
        double rewardMean = 0;
        for (double r : rewards) {
            rewardMean += r / rewards.length;
        }
        double rewardVar = 0;
        for (double r : rewards) {
            rewardVar += (r - rewardMean) * (r - rewardMean) / rewards.length;
        }
        java.util.Map<String, Double> logged = new java.util.LinkedHashMap<>();
        logged.put("reward_mean", rewardMean); // the raw reward-model logit, before whitening
        logged.put("reward_std", Math.sqrt(rewardVar));
        logged.put("combined_mean", last.meanCombined());
        logged.put("kl", s.meanKl());
        logged.put("beta", ppo.beta());
        logged.put("policy_loss", s.policyLoss());
        logged.put("value_loss", s.valueLoss());
        logged.put("clip_fraction", s.clipFraction());
        logged.put("approx_kl", s.approxKl());
        logged.put("grad_norm", s.gradNorm());
        logged.put("ptx_loss", s.ptxLoss());
        logged.put("kl_loss", s.klLoss());
        logged.put("eos_rate", 1 - last.truncatedRate());
        logged.put("responses", (double) batch.size());
        scalars.write(iterations, logged);
        pending.settle(ledger);
        bufferedResponses = 0;
    }

    /** Writes the next policy version (atomically) and returns it. */
    public PolicyCheckpoint checkpoint() {
        long next = version + 1;
        JsonObject meta = new JsonObject();
        meta.addProperty("stage", options.ppo().estimator().name().toLowerCase(java.util.Locale.ROOT));
        meta.addProperty(ITERATIONS, iterations);
        meta.addProperty(DROPPED_STALE, droppedStale);
        meta.addProperty(WITHOUT_SAMPLING_LOGPROBS, withoutSamplingLogprobs);
        meta.addProperty(REFUSED_SAMPLING, refusedSampling);
        meta.addProperty(SAMPLED_TOKENS, sampledTokens);
        meta.addProperty(KL_COEF, ppo.beta());
        meta.addProperty(REFERENCE, referenceDir.toString());
        meta.addProperty(REFERENCE_SHA256, referenceSha256);
        if (last != null) {
            meta.addProperty("mean_combined", last.meanCombined());
            meta.addProperty("mean_kl", last.meanKl());
            meta.addProperty("truncated_rate", last.truncatedRate());
            meta.addProperty("approx_kl", last.approxKl());
            meta.addProperty("policy_loss", last.policyLoss());
            meta.addProperty("value_loss", last.valueLoss());
            meta.addProperty("clip_fraction", last.clipFraction());
            meta.addProperty("ptx_loss", last.ptxLoss());
        }
        CheckpointDirs.Written w = CheckpointDirs.write(root, "policy", ppo.trainer(), next, VERSION, ledger, meta,
                tokenizerDir, d -> { });
        version = w.version(); // past a corrupt newer checkpoint, if one is on disk
        return new PolicyCheckpoint(version, w.dir(), w.manifestSha256(), ppo.steps(),
                last == null ? Double.NaN : last.policyLoss());
    }

    /** Rollouts refused because their sampling (greedy, top-k/top-p) cannot be reproduced by the trainer. */
    public long refusedSampling() {
        return refusedSampling;
    }

    /** The checkpoint the current weights came from, or null when training started from the initial policy. */
    public Path newestCheckpoint() {
        return CheckpointDirs.newest(root);
    }

    @Override
    public void close() {
        scalars.close();
        ppo.close();
        tokenizer.close();
        reference.close();
        manager.close();
    }
}
