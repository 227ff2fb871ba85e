package dev.rlhf.sampler.domain;

import dev.rlhf.vocabulary.SamplingParams;

import dev.rlhf.vocabulary.RewardCombiner;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Orchestration logic with in-process ports; the real gRPC path is covered by the service tests. */
class BestOfNRoundTest {
    private static PolicyPort policy(String... texts) {
        return (prompt, settings) -> CompletableFuture.completedFuture(new PolicyPort.Generation(
                java.util.Arrays.stream(texts).map(t -> new PolicyPort.GeneratedText(t, new int[] {1}, new float[] {-1f},
                        "eos")).toList(), 7));
    }

    private static RewardPort reward(long version, double... probabilities) {
        return (prompt, responses) -> {
            double[] raw = new double[probabilities.length];
            for (int i = 0; i < raw.length; i++) {
                raw[i] = Math.log(probabilities[i] / (1 - probabilities[i]));
            }
            return CompletableFuture.completedFuture(new RewardPort.Scores(raw, probabilities, version));
        };
    }

    private static final SamplingParams SETTINGS = new SamplingParams(3, 16, 1.0, 1.0, 0, 0, java.util.List.of());

    @Test
    void picksTheCandidateWithTheHighestCombinedReward() throws Exception {
        // Candidate 1 is most helpful but unsafe (safety 0.05 < 0.15 -> combined 0.05); candidate 2 wins.
        BestOfNRound round = new BestOfNRound(policy("a", "b", "c"), reward(3, 0.4, 0.95, 0.7),
                reward(4, 0.9, 0.05, 0.8), RewardCombiner.llama2());
        BestOfNRound.Result r = round.run("p", false, SETTINGS).toCompletableFuture().get();
        assertEquals(2, r.bestIndex());
        assertEquals("c", r.best().sample().text());
        assertEquals(0.05, r.candidates().get(1).combined(), 1e-12);
        assertEquals(7, r.policyVersion());
        assertEquals(3, r.helpfulnessVersion());
        assertEquals(4, r.safetyVersion());
    }

    @Test
    void safetyTaggedPromptsAreRankedBySafety() throws Exception {
        BestOfNRound round = new BestOfNRound(policy("comply", "refuse"), reward(1, 0.9, 0.2),
                reward(1, 0.3, 0.95), RewardCombiner.llama2());
        assertEquals(1, round.run("harmful", true, SETTINGS).toCompletableFuture().get().bestIndex());
    }

    @Test
    void mismatchedScoreCountsFailTheRound() {
        BestOfNRound round = new BestOfNRound(policy("a", "b"), reward(1, 0.5), reward(1, 0.5, 0.6),
                RewardCombiner.llama2());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> round.run("p", false, SETTINGS).toCompletableFuture().get());
        assertTrue(e.getCause().getMessage().contains("returned 1 and 2 scores for 2 samples"), e.getMessage());
    }

    static final class Transient extends RuntimeException {}

    @Test
    void transientErrorsAreRetriedAndPermanentOnesAreNot() throws Exception {
        Resilience.CircuitBreaker breaker = new Resilience.CircuitBreaker("policy", 10, 1000);
        Resilience r = new Resilience(4, 1, 4, e -> e instanceof Transient, breaker);
        AtomicInteger calls = new AtomicInteger();
        String value = r.call(() -> calls.incrementAndGet() < 3 ? CompletableFuture.failedFuture(new Transient())
                : CompletableFuture.completedFuture("ok")).toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertEquals("ok", value);
        assertEquals(3, calls.get());

        AtomicInteger permanent = new AtomicInteger();
        ExecutionException e = assertThrows(ExecutionException.class, () -> r.call(() -> {
            permanent.incrementAndGet();
            return CompletableFuture.failedFuture(new IllegalArgumentException("bad prompt"));
        }).toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertEquals(1, permanent.get());
    }

    /** The carrier sees each retry where it is scheduled, and what it binds there is present when the retry runs. */
    @Test
    void eachRetryTakesWhatTheCarrierBindsToItAcrossTheBackoff() throws Exception {
        ThreadLocal<String> callContext = new ThreadLocal<>();
        Resilience r = new Resilience(3, 1, 1, e -> e instanceof Transient,
                new Resilience.CircuitBreaker("policy", 10, 1000), task -> {
                    String bound = callContext.get();
                    return () -> {
                        callContext.set(bound);
                        try {
                            task.run();
                        } finally {
                            callContext.remove();
                        }
                    };
                });
        List<String> seenByAttempts = new java.util.concurrent.CopyOnWriteArrayList<>();
        callContext.set("round-7");
        try {
            assertThrows(ExecutionException.class, () -> r.call(() -> {
                seenByAttempts.add(String.valueOf(callContext.get()));
                return CompletableFuture.failedFuture(new Transient());
            }).toCompletableFuture().get(5, TimeUnit.SECONDS));
        } finally {
            callContext.remove();
        }
        assertEquals(List.of("round-7", "round-7", "round-7"), seenByAttempts,
                "the retries ran on the delay's threads, yet in the caller's context");
    }

    @Test
    void theBreakerOpensAfterRepeatedFailuresAndFailsFast() throws Exception {
        Resilience.CircuitBreaker breaker = new Resilience.CircuitBreaker("reward", 3, 60_000);
        Resilience r = new Resilience(3, 1, 2, e -> e instanceof Transient, breaker);
        AtomicInteger calls = new AtomicInteger();
        assertThrows(ExecutionException.class, () -> r.call(() -> {
            calls.incrementAndGet();
            return CompletableFuture.failedFuture(new Transient());
        }).toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertTrue(breaker.isOpen());
        int before = calls.get();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> r.call(() -> CompletableFuture.completedFuture("x")).toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertInstanceOf(Resilience.CircuitOpenException.class, e.getCause());
        assertEquals(before, calls.get(), "no call while open");
    }

    /**
     * Both reward models are told which responses were cut at max_new_tokens (so they score them without a closing
     * </s>), and each candidate keeps the raw logit of the reward model the combination chose.
     */
    @Test
    void truncationFlagsReachTheRewardModelsAndTheChosenRawScoreIsKept() throws Exception {
        PolicyPort policy = (prompt, settings) -> CompletableFuture.completedFuture(new PolicyPort.Generation(
                List.of(new PolicyPort.GeneratedText("cut", new int[] {1}, new float[] {-1f}, "length"),
                        new PolicyPort.GeneratedText("done", new int[] {2}, new float[] {-1f}, "eos")), 1));
        List<boolean[]> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
        RewardPort h = new RewardPort() {
            @Override
            public java.util.concurrent.CompletionStage<Scores> score(String prompt, List<String> responses) {
                throw new AssertionError("the flags must be passed");
            }

            @Override
            public java.util.concurrent.CompletionStage<Scores> score(String prompt, List<String> responses,
                                                                      boolean[] truncated) {
                seen.add(truncated.clone());
                return CompletableFuture.completedFuture(new Scores(new double[] {2.0, -1.0},
                        new double[] {0.88, 0.27}, 1));
            }
        };
        BestOfNRound round = new BestOfNRound(policy, h, reward(1, 0.1, 0.9), RewardCombiner.llama2());
        BestOfNRound.Result r = round.run("p", false, SETTINGS).toCompletableFuture().get();
        assertEquals(1, seen.size());
        assertTrue(seen.get(0)[0] && !seen.get(0)[1], "flags " + java.util.Arrays.toString(seen.get(0)));
        assertEquals(Math.log(0.1 / 0.9), r.candidates().get(0).combinedRaw(), 1e-12, "safety < 0.15: safety's");
        assertEquals(-1.0, r.candidates().get(1).combinedRaw(), 1e-12, "helpfulness's");
    }
}
