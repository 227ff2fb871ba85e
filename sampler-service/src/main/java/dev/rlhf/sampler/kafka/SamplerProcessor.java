package dev.rlhf.sampler.kafka;

import dev.rlhf.platform.kafka.InputRecord;
import dev.rlhf.platform.kafka.Outcome;
import dev.rlhf.platform.kafka.RecordProcessor;
import dev.rlhf.platform.kafka.RetriableProcessingException;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.platform.tracing.KafkaTracing;
import dev.rlhf.platform.tracing.Tracing;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.Candidate;
import dev.rlhf.proto.v1.CandidateScores;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.proto.v1.Rollout;
import dev.rlhf.sampler.domain.BestOfNRound;
import dev.rlhf.sampler.domain.PolicyPort;
import dev.rlhf.sampler.domain.RequestRejectedException;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.sampler.domain.ServiceUnavailableException;
import dev.rlhf.sampler.grpc.ProtoMapping;
import dev.rlhf.sampler.config.SamplerConfig;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.function.Consumer;

/**
 * One prompt from {@code rlhf.prompts} -> one best-of-N round -> its {@code Rollout} (all candidates) on
 * {@code rlhf.rollouts} and its winner on {@code rlhf.best}, both keyed by the prompt id; the loop commits them
 * with the input offset in one transaction.
 *
 * <p>Failures: an unavailable service (after the ports' retries, or with its breaker open) aborts the transaction,
 * so the prompt is processed again later; a prompt the services refuse, or an empty one, is dead-lettered. So is a
 * prompt that has kept failing as "unavailable" for longer than the retry budget: a deterministic failure that
 * looks transient must not abort every transaction forever.
 */
public final class SamplerProcessor implements RecordProcessor<Prompt> {
    private static final AttributeKey<String> PROMPT_ID = AttributeKey.stringKey("rlhf.prompt.id");
    private static final AttributeKey<Long> SAMPLES = AttributeKey.longKey("rlhf.samples");
    private static final AttributeKey<Long> POLICY_VERSION = AttributeKey.longKey("rlhf.policy.version");
    private static final AttributeKey<Long> BEST_INDEX = AttributeKey.longKey("rlhf.best.index");
    /** Most records remembered as failing; beyond it the oldest are forgotten (their clocks restart). */
    private static final int MAX_TRACKED = 100_000;

    private final BestOfNRound round;
    private final SamplingParams settings;
    private final Consumer<String> log;
    private final Duration retryBudget;
    private final LongSupplier nanoTime;
    /** When each record (topic/partition/offset) first failed as unavailable, in {@link #nanoTime} units. */
    private final Map<String, Long> failingSince = java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>() {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
                    return size() > MAX_TRACKED;
                }
            });

    /** When each record was first abandoned by the loop (its batch ran into the transaction timeout). */
    private final Map<String, Long> abandonedSince = java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>() {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
                    return size() > MAX_TRACKED;
                }
            });

    /** @param log told about each prompt put back because a service is unavailable */
    public SamplerProcessor(BestOfNRound round, SamplingParams settings, Consumer<String> log) {
        this(round, settings, log, SamplerConfig.PROMPT_RETRY_BUDGET.defaultValue().orElseThrow(), System::nanoTime);
    }

    /**
     * @param retryBudget how long one prompt may keep failing as unavailable before it is dead-lettered
     * @param nanoTime    the clock of that budget
     */
    public SamplerProcessor(BestOfNRound round, SamplingParams settings, Consumer<String> log, Duration retryBudget,
                            LongSupplier nanoTime) {
        this.round = round;
        this.settings = settings;
        this.log = log;
        this.retryBudget = retryBudget;
        this.nanoTime = nanoTime;
    }

    @Override
    public CompletionStage<Outcome> process(InputRecord<Prompt> record) {
        Prompt prompt = record.value();
        if (prompt.getId().isEmpty()) {
            return CompletableFuture.completedFuture(Outcome.deadLetter(
                    "prompt has no id (it keys the outputs and seeds the sampling)"));
        }
        if (prompt.getText().isEmpty()) {
            return CompletableFuture.completedFuture(Outcome.deadLetter("prompt " + prompt.getId()
                    + " has empty text"));
        }
        SamplingParams seeded = settings.forPrompt(prompt.getId());
        String where = where(record);
        Long slowSince = abandonedSince.get(where);
        if (slowSince != null && nanoTime.getAsLong() - slowSince > retryBudget.toNanos()) {
            // Abandoned by batch after batch (never an answer, so never onFailure): past its budget, not again.
            return CompletableFuture.completedFuture(Outcome.deadLetter("prompt " + prompt.getId()
                    + ": still unanswered when its transactions had to end, for longer than the retry budget of "
                    + retryBudget + " (sampler.prompt-retry-budget)"));
        }
        // The round's span: the gRPC calls below are its children (GrpcCaller continues the current context).
        Span span = Tracing.tracer().spanBuilder("best-of-n round")
                .setAttribute(PROMPT_ID, prompt.getId())
                .setAttribute(SAMPLES, (long) seeded.n())
                .startSpan();
        CompletionStage<BestOfNRound.Result> run;
        try (Scope ignored = span.makeCurrent()) {
            run = round.run(prompt.getText(), prompt.getSafetyTagged(), seeded);
        } catch (RuntimeException e) {
            run = CompletableFuture.failedFuture(e);
        }
        return run.handle((result, error) -> {
            try {
                if (error == null) {
                    failingSince.remove(where);
                    abandonedSince.remove(where);
                    span.setAttribute(POLICY_VERSION, result.policyVersion());
                    span.setAttribute(BEST_INDEX, (long) result.bestIndex());
                    return emit(prompt, seeded, result);
                }
                Tracing.failed(span, unwrap(error));
                return onFailure(prompt, where, error);
            } finally {
                span.end();
            }
        });
    }

    /**
     * Its batch ran into the transaction timeout while this prompt was still being sampled: that counts as a
     * failure, so a prompt too slow for any transaction is dead-lettered once its retry budget has passed.
     */
    @Override
    public void abandoned(InputRecord<Prompt> record) {
        abandonedSince.putIfAbsent(where(record), nanoTime.getAsLong());
        log.accept("sampler: prompt " + record.value().getId() + " was still being sampled when its transaction had "
                + "to end; it goes back to the queue");
    }

    private static String where(InputRecord<Prompt> record) {
        return record.topic() + "/" + record.partition() + "/" + record.offset();
    }

    private static Outcome emit(Prompt prompt, SamplingParams settings, BestOfNRound.Result result) {
        Rollout.Builder rollout = Rollout.newBuilder()
                .setPrompt(prompt)
                .setPolicyVersion(result.policyVersion())
                .setSampling(ProtoMapping.samplingParams(settings))
                .setBestIndex(result.bestIndex())
                .setHelpfulnessVersion(result.helpfulnessVersion())
                .setSafetyVersion(result.safetyVersion())
                .addAllPromptTokens(Arrays.stream(result.promptIds()).boxed().toList());
        for (BestOfNRound.Candidate candidate : result.candidates()) {
            rollout.addCandidates(candidate(candidate));
        }
        BestOfNRound.Candidate best = result.best();
        BestSample winner = BestSample.newBuilder()
                .setPrompt(prompt)
                .setResponse(best.sample().text())
                .setScores(scores(best))
                .setPolicyVersion(result.policyVersion())
                .addAllResponseTokens(tokens(best.sample()))
                .addAllPromptTokens(Arrays.stream(result.promptIds()).boxed().toList())
                .setFinishReason(ProtoMapping.finishReason(best.sample().finishReason()))
                .build();
        return Outcome.emit(List.of(new Outcome.Output(Topics.ROLLOUTS, prompt.getId(), rollout.build()),
                new Outcome.Output(Topics.BEST, prompt.getId(), winner)));
    }

    private static Candidate candidate(BestOfNRound.Candidate c) {
        Candidate.Builder out = Candidate.newBuilder()
                .setText(c.sample().text())
                .addAllTokens(tokens(c.sample()))
                .setScores(scores(c))
                .setFinishReason(ProtoMapping.finishReason(c.sample().finishReason()));
        for (float logprob : c.sample().logprobs()) {
            out.addLogprobs(logprob);
        }
        return out.build();
    }

    private static CandidateScores scores(BestOfNRound.Candidate c) {
        return CandidateScores.newBuilder()
                .setHelpfulness((float) c.helpfulness())
                .setSafety((float) c.safety())
                .setCombined((float) c.combined())
                .setHelpfulnessRaw((float) c.helpfulnessRaw())
                .setSafetyRaw((float) c.safetyRaw())
                .setCombinedRaw((float) c.combinedRaw())
                .build();
    }

    private static List<Integer> tokens(PolicyPort.GeneratedText sample) {
        return Arrays.stream(sample.tokens()).boxed().toList();
    }

    private Outcome onFailure(Prompt prompt, String where, Throwable error) {
        Throwable cause = unwrap(error);
        if (cause instanceof ServiceUnavailableException unavailable) {
            long now = nanoTime.getAsLong();
            long since = failingSince.computeIfAbsent(where, k -> now);
            if (now - since > retryBudget.toNanos()) {
                // The clock stays until a success: if another record aborts this transaction, this one is
                // dead-lettered again at once on the next attempt instead of starting a new budget.
                return Outcome.deadLetter("prompt " + prompt.getId() + ": still failing after the retry budget of "
                        + retryBudget + " (sampler.prompt-retry-budget): " + unavailable.getMessage());
            }
            failingSince.remove(where); // re-inserted with its first time below: the newest stay tracked
            failingSince.put(where, since);
            log.accept("sampler: prompt " + prompt.getId() + " goes back to the queue: " + unavailable.getMessage());
            throw new RetriableProcessingException("prompt " + prompt.getId() + ": " + unavailable.getMessage(),
                    unavailable);
        }
        if (cause instanceof RequestRejectedException rejected) {
            return Outcome.deadLetter("prompt " + prompt.getId() + ": " + rejected.getMessage());
        }
        return Outcome.deadLetter("prompt " + prompt.getId() + ": " + cause);
    }

    private static Throwable unwrap(Throwable error) {
        Throwable t = error;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
