package dev.rlhf.policy.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.proto.v1.FinishReason;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.GenerateResponse;
import dev.rlhf.proto.v1.GenerateStreamChunk;
import dev.rlhf.proto.v1.PolicyServiceGrpc;
import dev.rlhf.proto.v1.PromptResponse;
import dev.rlhf.proto.v1.Sample;
import dev.rlhf.proto.v1.SamplingParams;
import dev.rlhf.proto.v1.ScoreSequencesRequest;
import dev.rlhf.proto.v1.ScoreSequencesResponse;
import dev.rlhf.proto.v1.TokenIds;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The policy service over real gRPC on loopback, called with grpc-java's standard client. */
class PolicyServiceTest {
    @TempDir
    static Path tmp;
    static PolicyMain service;
    static ManagedChannel channel;

    static PolicyConfig config(Path checkpoint) {
        return new PolicyConfig("127.0.0.1", 0, checkpoint, 1, 64, 32, 64 << 20, "cpu", 0,
                false, "127.0.0.1:1", Duration.ofSeconds(10));
    }

    @BeforeAll
    static void start() throws Exception {
        service = PolicyMain.start(config(ModelFactory.tinyForTests(tmp.resolve("v1"), 1, false)), msg -> { });
        channel = ManagedChannelBuilder.forAddress("127.0.0.1", service.port()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        service.close();
    }

    static PolicyServiceGrpc.PolicyServiceBlockingStub stub() {
        return PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    static SamplingParams.Builder params(int n, int maxNew) {
        return SamplingParams.newBuilder().setN(n).setMaxNewTokens(maxNew).setTemperature(1f).setSeed(3);
    }

    @Test
    void generateReturnsNSamplesTaggedWithTheVersion() {
        GenerateResponse r = stub().generate(GenerateRequest.newBuilder().setPrompt("What is 2 plus 3?")
                .setParams(params(3, 10)).build());
        assertEquals(3, r.getSamplesCount());
        assertEquals(1, r.getPolicyVersion());
        assertTrue(r.getPromptTokens() > 2);
        try (dev.rlhf.llama.tokenizer.LlamaTokenizer tok = dev.rlhf.llama.tokenizer.LlamaTokenizer.load(
                tmp.resolve("v1"))) {
            // The ids the samples are conditioned on, so that the trainer need not tokenize the text again.
            assertEquals(java.util.Arrays.stream(dev.rlhf.llama.tokenizer.PromptFormat.chatPrompt(tok,
                    "What is 2 plus 3?")).boxed().toList(), r.getPromptIdsList());
            for (Sample s : r.getSamplesList()) {
                assertEquals(s.getTokensCount(), s.getLogprobsCount());
                assertTrue(s.getLogprobsList().stream().allMatch(lp -> lp <= 0));
                assertTrue(s.getFinishReason() == FinishReason.FINISH_REASON_EOS
                        || s.getFinishReason() == FinishReason.FINISH_REASON_LENGTH);
                boolean endsOnEos = s.getTokensCount() > 0 && s.getTokens(s.getTokensCount() - 1) == tok.eosId();
                assertEquals(s.getFinishReason() == FinishReason.FINISH_REASON_EOS, endsOnEos,
                        "EOS is the last token exactly when the sample ended on it");
            }
        }
    }

    @Test
    void scoreSequencesReproducesTheSamplingLogprobs() {
        GenerateResponse g = stub().generate(GenerateRequest.newBuilder().setPrompt("hello world")
                .setParams(params(1, 8)).build());
        Sample s = g.getSamples(0);
        ScoreSequencesResponse scored = stub().scoreSequences(ScoreSequencesRequest.newBuilder()
                .addItems(PromptResponse.newBuilder().setPrompt("hello world").setResponse(s.getText())).build());
        // Re-tokenizing the decoded text may merge tokens differently; compare the total log-probability when the
        // tokenization round-trips exactly, which it does for this byte-level BPE on ASCII output.
        if (scored.getResults(0).getTokensList().equals(s.getTokensList())) {
            for (int i = 0; i < s.getLogprobsCount(); i++) {
                assertEquals(s.getLogprobs(i), scored.getResults(0).getLogprobs(i), 1e-4);
            }
        }
        assertEquals(scored.getResults(0).getTokensCount(), scored.getResults(0).getLogprobsCount());
        assertEquals(1, scored.getPolicyVersion());
    }

    @Test
    void streamingDeliversTokensThenAFinalChunk() {
        Iterator<GenerateStreamChunk> chunks = stub().generateStream(GenerateRequest.newBuilder()
                .setPrompt("hello").setParams(params(1, 12).setTemperature(0)).build());
        List<Integer> streamed = new ArrayList<>();
        GenerateStreamChunk last = null;
        while (chunks.hasNext()) {
            last = chunks.next();
            streamed.addAll(last.getTokensList());
        }
        GenerateResponse whole = stub().generate(GenerateRequest.newBuilder().setPrompt("hello")
                .setParams(params(1, 12).setTemperature(0)).build());
        assertEquals(whole.getSamples(0).getTokensList(), streamed);
        assertEquals(whole.getSamples(0).getText(), last.getTextDelta());
        assertEquals(1, last.getPolicyVersion());
        assertTrue(last.getFinishReason() != FinishReason.FINISH_REASON_UNSPECIFIED);

        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub().generateStream(
                GenerateRequest.newBuilder().setPrompt("hello").setParams(params(2, 4)).build()).hasNext());
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("n must be 1, got 2"), e.getStatus().getDescription());
    }

    private static void assertStatus(Status.Code code, String messagePart, GenerateRequest request) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub().generate(request));
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription() != null && e.getStatus().getDescription().contains(messagePart),
                e.getStatus().getDescription());
    }

    @Test
    void badInputGetsTheRightStatusWithTheNumbersAndTheServiceStaysHealthy() {
        GenerateRequest.Builder ok = GenerateRequest.newBuilder().setPrompt("hi").setParams(params(1, 4));
        assertStatus(Status.Code.INVALID_ARGUMENT, "prompt is empty", ok.clone().setPrompt("").build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "n must be in [1, 64], got 65",
                ok.clone().setParams(params(65, 4)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "got 0", ok.clone().setParams(params(0, 4)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "max_new_tokens must be > 0, got 0",
                ok.clone().setParams(params(1, 0)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "temperature must be a finite number >= 0, got NaN",
                ok.clone().setParams(params(1, 4).setTemperature(Float.NaN)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "got -0.5",
                ok.clone().setParams(params(1, 4).setTemperature(-0.5f)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "top_p must be in (0, 1], got 1.5",
                ok.clone().setParams(params(1, 4).setTopP(1.5f)).build());
        assertStatus(Status.Code.OUT_OF_RANGE, "exceeds the context length 256",
                ok.clone().setParams(params(1, 300)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "out of range",
                ok.clone().setPromptIds(TokenIds.newBuilder().addIds(1).addIds(100000)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "params are required", GenerateRequest.newBuilder().setPrompt("x")
                .build());
        // Invalid UTF-8 in the prompt: the client library refuses to build it, so send raw bytes.
        byte[] paramsBytes = params(1, 4).build().toByteArray();
        java.io.ByteArrayOutputStream raw = new java.io.ByteArrayOutputStream();
        raw.writeBytes(new byte[] {0x0A, 2, (byte) 0xC3, 0x28}); // field 1 (prompt), 2 bytes, invalid UTF-8
        raw.write(0x1A); // field 3 (params)
        raw.write(paramsBytes.length);
        raw.writeBytes(paramsBytes);
        io.grpc.MethodDescriptor<byte[], GenerateResponse> rawGenerate = PolicyServiceGrpc.getGenerateMethod()
                .toBuilder(new BytesMarshaller(), PolicyServiceGrpc.getGenerateMethod().getResponseMarshaller())
                .build();
        StatusRuntimeException utf8 = assertThrows(StatusRuntimeException.class, () -> io.grpc.stub.ClientCalls
                .blockingUnaryCall(channel, rawGenerate, io.grpc.CallOptions.DEFAULT.withDeadlineAfter(30,
                        TimeUnit.SECONDS), raw.toByteArray()));
        assertEquals(Status.Code.INVALID_ARGUMENT, utf8.getStatus().getCode(), utf8.getStatus().toString());
        assertTrue(utf8.getStatus().getDescription().contains("UTF-8"), utf8.getStatus().getDescription());

        assertEquals(ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
                .check(HealthCheckRequest.newBuilder().build()).getStatus());
        assertEquals(1, stub().generate(ok.build()).getSamplesCount());
    }

    /**
     * The hostile request that once killed the worker (prompt + max_new_tokens overflowed int and passed the context
     * check, then an array of 2^31 - 1 tokens was asked for), and every other limit: each gets INVALID_ARGUMENT naming
     * its key, before any tokenizing, and the service keeps serving.
     */
    @Test
    void requestsOverTheLimitsAreRefusedNamingTheKeyAndTheWorkerLives() {
        GenerateRequest.Builder ok = GenerateRequest.newBuilder().setPrompt("hi").setParams(params(1, 4));
        assertStatus(Status.Code.INVALID_ARGUMENT, "max_new_tokens 2147483647 is above the limit 4096 "
                + "(policy.max-new-tokens)", ok.clone().setParams(params(2, Integer.MAX_VALUE)).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "(policy.max-prompt-bytes)",
                ok.clone().setPrompt("x".repeat((64 << 10) + 1)).build());
        SamplingParams.Builder manyStops = params(1, 4);
        for (int i = 0; i < 17; i++) {
            manyStops.addStop("s" + i);
        }
        assertStatus(Status.Code.INVALID_ARGUMENT, "17 stop strings, at most 16 (policy.max-stop-strings)",
                ok.clone().setParams(manyStops).build());
        assertStatus(Status.Code.INVALID_ARGUMENT, "stop strings total 1025 bytes, at most 1024 "
                + "(policy.max-stop-bytes)", ok.clone().setParams(params(1, 4).addStop("y".repeat(1025))).build());
        ScoreSequencesRequest.Builder many = ScoreSequencesRequest.newBuilder();
        for (int i = 0; i < 257; i++) {
            many.addItems(PromptResponse.newBuilder().setPrompt("p").setResponse("r"));
        }
        StatusRuntimeException items = assertThrows(StatusRuntimeException.class,
                () -> stub().scoreSequences(many.build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, items.getStatus().getCode());
        assertTrue(items.getStatus().getDescription().contains("257, at most 256 (policy.max-score-items)"),
                items.getStatus().getDescription());

        assertEquals(ServingStatus.SERVING, HealthGrpc.newBlockingStub(channel)
                .check(HealthCheckRequest.newBuilder().build()).getStatus());
        assertEquals(2, stub().generate(ok.clone().setParams(params(2, 4)).build()).getSamplesCount());
    }

    /** Passes request bytes through untouched, to send what a well-behaved client library would refuse. */
    static final class BytesMarshaller implements io.grpc.MethodDescriptor.Marshaller<byte[]> {
        @Override
        public java.io.InputStream stream(byte[] value) {
            return new java.io.ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(java.io.InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    @Test
    void aShortDeadlineReturnsDeadlineExceededAndStopsTheWork() throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        service.engine().onCancelled(stopped::countDown);
        try {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> PolicyServiceGrpc
                    .newBlockingStub(channel).withDeadlineAfter(50, TimeUnit.MILLISECONDS)
                    .generate(GenerateRequest.newBuilder().setPrompt("hello")
                            .setParams(params(32, 240).setTemperature(1.5f)).build()));
            assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
            assertTrue(stopped.await(30, TimeUnit.SECONDS), "the engine stopped the request's work");
            assertFalse(service.engine().cancelledRequests() == 0);
        } finally {
            service.engine().onCancelled(null);
        }
    }
}
