package dev.rlhf.sampler.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.kafka.InputRecord;
import dev.rlhf.platform.kafka.Outcome;
import dev.rlhf.platform.kafka.RetriableProcessingException;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.FinishReason;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.proto.v1.Rollout;
import dev.rlhf.sampler.domain.BestOfNRound;
import dev.rlhf.sampler.domain.PolicyPort;
import dev.rlhf.sampler.domain.RequestRejectedException;
import dev.rlhf.vocabulary.RewardCombiner;
import dev.rlhf.sampler.domain.RewardPort;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.sampler.domain.ServiceUnavailableException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Prompt -> outcome mapping with in-process ports; the broker path is covered by SamplerServiceTest. */
class SamplerProcessorTest {
    private static final SamplingParams SETTINGS = new SamplingParams(2, 8, 1.0, 0.9, 0, 0, java.util.List.of());
    private final AtomicReference<SamplingParams> seen = new AtomicReference<>();

    private PolicyPort policy() {
        return (prompt, settings) -> {
            seen.set(settings);
            return CompletableFuture.completedFuture(new PolicyPort.Generation(List.of(
                    new PolicyPort.GeneratedText("unsafe but helpful", new int[] {5, 6}, new float[] {-0.5f, -1f},
                            "length"),
                    new PolicyPort.GeneratedText("safe", new int[] {7}, new float[] {-0.25f}, "eos")), 3,
                    new int[] {1, 40, 3}));
        };
    }

    private static RewardPort reward(long version, double... p) {
        double[] raw = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            raw[i] = Math.log(p[i] / (1 - p[i]));
        }
        return (prompt, responses) -> CompletableFuture.completedFuture(new RewardPort.Scores(raw, p, version));
    }

    private SamplerProcessor processor(PolicyPort policy) {
        return new SamplerProcessor(new BestOfNRound(policy, reward(5, 0.9, 0.6), reward(6, 0.1, 0.8),
                RewardCombiner.llama2()), SETTINGS, msg -> { });
    }

    private static InputRecord<Prompt> record(Prompt p) {
        return new InputRecord<>(Topics.PROMPTS, 0, 42, p.getId(), p);
    }

    private static Outcome outcome(SamplerProcessor processor, Prompt p) {
        return processor.process(record(p)).toCompletableFuture().join();
    }

    @Test
    void aRoundBecomesAFullRolloutAndItsWinnerKeyedByThePromptId() throws Exception {
        Prompt prompt = Prompt.newBuilder().setId("p-1").setText("hello").setSource("test").build();
        Outcome.Emit emit = assertInstanceOf(Outcome.Emit.class, outcome(processor(policy()), prompt));
        assertEquals(2, emit.outputs().size());
        assertEquals(Topics.ROLLOUTS, emit.outputs().get(0).topic());
        assertEquals(Topics.BEST, emit.outputs().get(1).topic());
        assertEquals("p-1", emit.outputs().get(0).key());
        assertEquals("p-1", emit.outputs().get(1).key());

        Rollout rollout = (Rollout) emit.outputs().get(0).value();
        assertEquals(prompt, rollout.getPrompt());
        assertEquals(3, rollout.getPolicyVersion());
        assertEquals(5, rollout.getHelpfulnessVersion());
        assertEquals(6, rollout.getSafetyVersion());
        // Candidate 0 has safety 0.1 < 0.15, so its combined reward is 0.1; candidate 1 (0.6) wins.
        assertEquals(1, rollout.getBestIndex());
        assertEquals(0.1f, rollout.getCandidates(0).getScores().getCombined());
        assertEquals(0.6f, rollout.getCandidates(1).getScores().getCombined());
        assertEquals(List.of(5, 6), rollout.getCandidates(0).getTokensList());
        assertEquals(List.of(-0.5f, -1f), rollout.getCandidates(0).getLogprobsList());
        assertEquals(FinishReason.FINISH_REASON_LENGTH, rollout.getCandidates(0).getFinishReason());
        assertEquals((float) Math.log(0.9 / 0.1), rollout.getCandidates(0).getScores().getHelpfulnessRaw(), 1e-6);
        // The raw logit of the chosen reward model travels as it is: safety for candidate 0, helpfulness for 1.
        assertEquals((float) Math.log(0.1 / 0.9), rollout.getCandidates(0).getScores().getCombinedRaw(), 1e-6);
        assertEquals((float) Math.log(0.6 / 0.4), rollout.getCandidates(1).getScores().getCombinedRaw(), 1e-6);
        assertEquals(List.of(1, 40, 3), rollout.getPromptTokensList(), "the policy's prompt ids");
        assertEquals(2, rollout.getSampling().getN());
        assertEquals(0.9f, rollout.getSampling().getTopP());
        assertEquals(SETTINGS.forPrompt("p-1").seed(), rollout.getSampling().getSeed());
        assertEquals(SETTINGS.forPrompt("p-1"), seen.get(), "the policy is called with the prompt's seed");

        BestSample best = (BestSample) emit.outputs().get(1).value();
        assertEquals("safe", best.getResponse());
        assertEquals(List.of(7), best.getResponseTokensList());
        assertEquals(List.of(1, 40, 3), best.getPromptTokensList());
        assertEquals(FinishReason.FINISH_REASON_EOS, best.getFinishReason());
        assertEquals(rollout.getCandidates(1).getScores(), best.getScores());
        assertEquals(3, best.getPolicyVersion());
        assertEquals(prompt, best.getPrompt());
    }

    @Test
    void emptyPromptsAndPromptsWithoutIdAreDeadLetteredWithoutCallingThePolicy() {
        SamplerProcessor processor = processor(policy());
        Outcome.DeadLetter empty = assertInstanceOf(Outcome.DeadLetter.class,
                outcome(processor, Prompt.newBuilder().setId("p-2").build()));
        assertEquals("prompt p-2 has empty text", empty.reason());
        Outcome.DeadLetter noId = assertInstanceOf(Outcome.DeadLetter.class,
                outcome(processor, Prompt.newBuilder().setText("hi").build()));
        assertTrue(noId.reason().contains("no id"), noId.reason());
        assertEquals(null, seen.get());
    }

    @Test
    void anUnavailableServiceAbortsTheTransactionAndARejectedPromptIsDeadLettered() {
        Prompt prompt = Prompt.newBuilder().setId("p-3").setText("hello").build();
        SamplerProcessor down = processor((p, s) -> CompletableFuture.failedFuture(
                new ServiceUnavailableException("policy", "UNAVAILABLE: cannot reach 127.0.0.1:1", null)));
        CompletionException e = assertThrows(CompletionException.class,
                () -> down.process(record(prompt)).toCompletableFuture().join());
        assertInstanceOf(RetriableProcessingException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("p-3"), e.getCause().getMessage());

        SamplerProcessor refusing = processor((p, s) -> CompletableFuture.failedFuture(new RequestRejectedException(
                "policy", "OUT_OF_RANGE: prompt exceeds the context length 256", null)));
        Outcome.DeadLetter letter = assertInstanceOf(Outcome.DeadLetter.class, outcome(refusing, prompt));
        assertEquals("prompt p-3: policy rejected the request: OUT_OF_RANGE: prompt exceeds the context length 256",
                letter.reason());
    }

    /**
     * A prompt that keeps failing as "unavailable" is processed again each time (its transaction aborted) until it
     * has failed for longer than the retry budget; then it is dead-lettered, so a deterministic failure that looks
     * transient cannot loop forever. A success in between restarts its clock.
     */
    @Test
    void aPromptFailingLongerThanTheRetryBudgetIsDeadLettered() {
        long[] now = {0};
        boolean[] up = {false};
        PolicyPort flaky = (prompt, settings) -> up[0] ? policy().generate(prompt, settings)
                : CompletableFuture.failedFuture(new ServiceUnavailableException("policy", "UNAVAILABLE: down", null));
        SamplerProcessor processor = new SamplerProcessor(new BestOfNRound(flaky, reward(5, 0.9, 0.6),
                reward(6, 0.1, 0.8), RewardCombiner.llama2()), SETTINGS, msg -> { }, java.time.Duration.ofSeconds(60),
                () -> now[0]);
        Prompt prompt = Prompt.newBuilder().setId("p-9").setText("hello").build();
        for (long t : new long[] {0, 30, 60}) { // within the budget: put back each time
            now[0] = t * 1_000_000_000L;
            CompletionException e = assertThrows(CompletionException.class, () -> outcome(processor, prompt));
            assertInstanceOf(RetriableProcessingException.class, e.getCause());
        }
        now[0] = 61 * 1_000_000_000L;
        Outcome.DeadLetter letter = assertInstanceOf(Outcome.DeadLetter.class, outcome(processor, prompt));
        assertTrue(letter.reason().contains("still failing after the retry budget of PT1M"), letter.reason());
        // If another record aborts that transaction, the next attempt dead-letters it again at once.
        assertInstanceOf(Outcome.DeadLetter.class, outcome(processor, prompt));

        // The clock is per record and restarts after a success.
        up[0] = true;
        assertInstanceOf(Outcome.Emit.class, outcome(processor, prompt));
        up[0] = false;
        now[0] = 200 * 1_000_000_000L;
        CompletionException again = assertThrows(CompletionException.class, () -> outcome(processor, prompt));
        assertInstanceOf(RetriableProcessingException.class, again.getCause());
    }

    /**
     * A prompt whose sampling never answers within a transaction is abandoned by the loop batch after batch; once
     * that has gone on longer than the retry budget it is dead-lettered without calling the services again, and an
     * answer in between restarts its clock.
     */
    @Test
    void aPromptAbandonedLongerThanTheRetryBudgetIsDeadLetteredWithoutAnotherCall() {
        long[] now = {0};
        int[] calls = {0};
        PolicyPort counting = (prompt, settings) -> {
            calls[0]++;
            return policy().generate(prompt, settings);
        };
        SamplerProcessor processor = new SamplerProcessor(new BestOfNRound(counting, reward(5, 0.9, 0.6),
                reward(6, 0.1, 0.8), RewardCombiner.llama2()), SETTINGS, msg -> { }, java.time.Duration.ofSeconds(60),
                () -> now[0]);
        Prompt prompt = Prompt.newBuilder().setId("p-slow").setText("hello").build();
        processor.abandoned(record(prompt)); // t = 0
        now[0] = 60 * 1_000_000_000L;
        assertInstanceOf(Outcome.Emit.class, outcome(processor, prompt), "within the budget: tried again");
        processor.abandoned(record(prompt)); // the answer cleared the clock: it starts again at 60 s
        now[0] = 100 * 1_000_000_000L;
        processor.abandoned(record(prompt));
        assertInstanceOf(Outcome.Emit.class, outcome(processor, prompt), "40 s into the new clock");
        processor.abandoned(record(prompt)); // clock from 100 s
        now[0] = 161 * 1_000_000_000L;
        int before = calls[0];
        Outcome.DeadLetter letter = assertInstanceOf(Outcome.DeadLetter.class, outcome(processor, prompt));
        assertTrue(letter.reason().contains("longer than the retry budget of PT1M"), letter.reason());
        assertEquals(before, calls[0], "no call for a prompt past its budget");
    }
}
