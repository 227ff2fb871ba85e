package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.tracing.InMemoryTracing;
import dev.rlhf.vocabulary.SamplingParams;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With tracing on, one prompt is one connected trace across the services of `rlhf up`: the sampler's processing of
 * the prompt, its round, the Generate and Score calls on the policy and reward services, the records it produced,
 * the trainer's step and the policy service's update. Spans come from the SDK's in-memory exporter; the broker,
 * the gRPC calls and the training are real.
 */
class TraceAcrossServicesTest {
    @TempDir
    Path tmp;

    @Test
    void onePromptIsOneTraceFromTheSamplerThroughTheTrainerIntoThePolicyUpdate() throws Exception {
        Path prompts = Files.write(tmp.resolve("prompts.jsonl"), List.of(
                "{\"id\": \"trace-0\", \"text\": \"What is 1 plus 1?\"}",
                "{\"id\": \"trace-1\", \"text\": \"What is 2 plus 1?\"}"));
        try (InMemoryTracing tracing = new InMemoryTracing();
             LocalCluster cluster = LocalCluster.start(new LocalCluster.Settings(tmp.resolve("up"), null, null, null,
                     new SamplingParams(2, 6, 1.0, 1.0, 0, 0, List.of()), 2, 64, 1e-3, "cpu"), msg -> { })) {
            CountDownLatch version1 = new CountDownLatch(1);
            cluster.policy().updater().onSwap(v -> version1.countDown());
            RlhfCommandTest.Run sent = RlhfCommandTest.rlhf("prompts", "send", prompts.toString(), "--kafka",
                    cluster.kafka());
            assertEquals(0, sent.code(), sent.err());
            assertTrue(version1.await(180, TimeUnit.SECONDS), "policy never reached version 1");

            // The update's span ends once the swap is done; then every span of its trace has ended too.
            List<SpanData> spans = tracing.await(all -> chain(all).isPresent(), Duration.ofSeconds(60));
            Map<String, SpanData> byId = spans.stream()
                    .collect(Collectors.toMap(SpanData::getSpanId, Function.identity(), (a, b) -> a));
            List<SpanData> path = chain(spans).orElseThrow();
            SpanData prompt = path.get(path.size() - 1);
            assertEquals("process rlhf.prompts", prompt.getName());
            for (SpanData span : path) {
                assertEquals(prompt.getTraceId(), span.getTraceId(), span.getName());
            }

            // Under the prompt: its round, whose calls reach the services, and both records it produced.
            List<SpanData> trace = spans.stream().filter(s -> s.getTraceId().equals(prompt.getTraceId())).toList();
            SpanData round = only(trace, "best-of-n round", prompt);
            SpanData generate = only(trace, "rlhf.v1.PolicyService/Generate", round, SpanKind.CLIENT);
            only(trace, "rlhf.v1.PolicyService/Generate", generate, SpanKind.SERVER);
            List<SpanData> scores = children(trace, "rlhf.v1.RewardService/Score", round);
            assertEquals(2, scores.size(), "helpfulness and safety: " + scores);
            for (SpanData score : scores) {
                assertEquals(SpanKind.CLIENT, score.getKind());
                only(trace, "rlhf.v1.RewardService/Score", score, SpanKind.SERVER);
            }
            only(trace, "send rlhf.rollouts", prompt);

            // The step that trained on both prompts links to the other prompt's record.
            SpanData train = path.stream().filter(s -> s.getName().equals("train trainer")).findFirst().orElseThrow();
            assertEquals(2L, train.getAttributes().get(io.opentelemetry.api.common.AttributeKey.longKey(
                    "rlhf.trainer.records")));
            List<String> linked = train.getLinks().stream().map(LinkData::getSpanContext)
                    .map(c -> byId.get(c.getSpanId())).map(s -> s == null ? "?" : s.getName()).toList();
            assertEquals(List.of("process rlhf.best"), linked);
            assertTrue(!train.getLinks().get(0).getSpanContext().getTraceId().equals(prompt.getTraceId()),
                    "the other prompt has its own trace");
        }
    }

    /**
     * From the policy service's processing of a new version up to the root: {@code process rlhf.policy-updates} <-
     * {@code send rlhf.policy-updates} <- {@code train trainer} <- {@code process rlhf.best} <- {@code send rlhf.best}
     * <- {@code process rlhf.prompts}; empty until all of them have ended.
     */
    private static Optional<List<SpanData>> chain(List<SpanData> spans) {
        Map<String, SpanData> byId = spans.stream()
                .collect(Collectors.toMap(SpanData::getSpanId, Function.identity(), (a, b) -> a));
        List<String> expected = List.of("process rlhf.policy-updates", "send rlhf.policy-updates", "train trainer",
                "process rlhf.best", "send rlhf.best", "process rlhf.prompts");
        for (SpanData update : spans) {
            if (!update.getName().equals(expected.get(0))) {
                continue;
            }
            List<SpanData> path = new ArrayList<>(List.of(update));
            SpanData at = update;
            while (path.size() < expected.size() && byId.containsKey(at.getParentSpanId())) {
                at = byId.get(at.getParentSpanId());
                path.add(at);
            }
            if (path.stream().map(SpanData::getName).toList().equals(expected) && !at.getParentSpanContext().isValid()) {
                return Optional.of(path);
            }
        }
        return Optional.empty();
    }

    private static List<SpanData> children(List<SpanData> trace, String name, SpanData parent) {
        return trace.stream().filter(s -> s.getName().equals(name) && s.getParentSpanId().equals(parent.getSpanId()))
                .toList();
    }

    private static SpanData only(List<SpanData> trace, String name, SpanData parent) {
        List<SpanData> found = children(trace, name, parent);
        assertEquals(1, found.size(), name + " under " + parent.getName() + ": " + found);
        return found.get(0);
    }

    private static SpanData only(List<SpanData> trace, String name, SpanData parent, SpanKind kind) {
        List<SpanData> found = children(trace, name, parent).stream().filter(s -> s.getKind() == kind).toList();
        assertEquals(1, found.size(), name + " (" + kind + ") under " + parent.getName() + ": " + found);
        assertNotNull(found.get(0));
        return found.get(0);
    }
}
