package dev.rlhf.policy.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.domain.PolicyEngine.GenerateJob;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.PolicyServiceGrpc;
import dev.rlhf.vocabulary.SamplingParams;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model worker never dies silently: a Throwable in a batch fails that batch only, and one after which the worker
 * cannot be trusted (a VirtualMachineError) turns health NOT_SERVING and every call UNAVAILABLE instead of a hang.
 * The failures are raised inside the real generation loop, from the token listener it calls on the worker thread.
 */
class PolicyWorkerFailureTest {
    @TempDir
    Path tmp;

    private static GenerateJob throwingJob(Error error) {
        return new GenerateJob("hello", null, new SamplingParams(1, 4, 1.0, 1.0, 0, 1, List.of()),
                (sample, token, logprob) -> {
                    throw error;
                }, null);
    }

    @Test
    void anErrorFailsItsBatchAndAVirtualMachineErrorStopsServing() throws Exception {
        try (PolicyMain service = PolicyMain.start(PolicyServiceTest.config(
                ModelFactory.tinyForTests(tmp.resolve("v1"), 1, false)), msg -> { })) {
            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", service.port()).usePlaintext()
                    .build();
            try {
                var stub = PolicyServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
                var health = HealthGrpc.newBlockingStub(channel);
                GenerateRequest ok = GenerateRequest.newBuilder().setPrompt("hi")
                        .setParams(PolicyServiceTest.params(1, 4)).build();

                ExecutionException batch = assertThrows(ExecutionException.class, () -> service.engine()
                        .generate(throwingJob(new AssertionError("boom"))).get(60, TimeUnit.SECONDS));
                assertInstanceOf(AssertionError.class, batch.getCause());
                assertEquals(ServingStatus.SERVING, health.check(HealthCheckRequest.getDefaultInstance())
                        .getStatus(), "an Error in one batch does not stop the worker");
                assertEquals(1, stub.generate(ok).getSamplesCount());

                ExecutionException fatal = assertThrows(ExecutionException.class, () -> service.engine()
                        .generate(throwingJob(new OutOfMemoryError("test"))).get(60, TimeUnit.SECONDS));
                assertInstanceOf(OutOfMemoryError.class, fatal.getCause());
                assertEquals(ServingStatus.NOT_SERVING, health.check(HealthCheckRequest.getDefaultInstance())
                        .getStatus());
                StatusRuntimeException after = assertThrows(StatusRuntimeException.class, () -> stub.generate(ok));
                assertEquals(Status.Code.UNAVAILABLE, after.getStatus().getCode(), after.getStatus().toString());
                assertTrue(after.getStatus().getDescription().contains("the policy worker failed"),
                        after.getStatus().getDescription());
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }
}
