package dev.rlhf.sampler.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.grpc.GrpcStatusException;
import dev.rlhf.proto.v1.FinishReason;
import dev.rlhf.sampler.domain.RequestRejectedException;
import dev.rlhf.sampler.domain.Resilience;
import dev.rlhf.sampler.domain.ServiceUnavailableException;
import io.vertx.grpc.common.GrpcStatus;
import org.junit.jupiter.api.Test;

class ServiceErrorsTest {

    @Test
    void unavailableSlowAndOverloadedServicesAreRetriedAndNothingElseIs() {
        for (GrpcStatus status : GrpcStatus.values()) {
            if (status == GrpcStatus.OK) {
                continue;
            }
            boolean expected = status == GrpcStatus.UNAVAILABLE || status == GrpcStatus.DEADLINE_EXCEEDED
                    || status == GrpcStatus.RESOURCE_EXHAUSTED;
            assertEquals(expected, ServiceErrors.isTransient(new GrpcStatusException(status, "x")), status.name());
        }
        assertFalse(ServiceErrors.isTransient(new IllegalStateException("bug")));
        GrpcStatusException overLimit = new GrpcStatusException(GrpcStatus.RESOURCE_EXHAUSTED,
                "response exceeds the client's message size limit",
                new io.vertx.grpc.common.MessageSizeOverflowException(5_000_000));
        assertFalse(ServiceErrors.isTransient(overLimit), "the same seeded request would be as large again");
        assertInstanceOf(RequestRejectedException.class, ServiceErrors.toDomain("policy", overLimit));
    }

    @Test
    void failuresAfterRetriesBecomeUnavailableOrRejectedWithTheServerMessage() {
        assertInstanceOf(ServiceUnavailableException.class, ServiceErrors.toDomain("policy",
                new GrpcStatusException(GrpcStatus.UNAVAILABLE, "cannot reach 127.0.0.1:1")));
        assertInstanceOf(ServiceUnavailableException.class, ServiceErrors.toDomain("policy",
                new Resilience.CircuitOpenException("policy")));
        RuntimeException rejected = ServiceErrors.toDomain("policy", GrpcStatusException.outOfRange(
                "prompt of 300 tokens plus 8 new exceeds the context length 256"));
        assertInstanceOf(RequestRejectedException.class, rejected);
        assertTrue(rejected.getMessage().contains("OUT_OF_RANGE: prompt of 300 tokens"), rejected.getMessage());
        IllegalStateException bug = new IllegalStateException("bug");
        assertEquals(bug, ServiceErrors.toDomain("policy", bug));
    }

    @Test
    void finishReasonsRoundTripThroughTheirDomainNames() {
        for (FinishReason reason : FinishReason.values()) {
            if (reason != FinishReason.UNRECOGNIZED) {
                assertEquals(reason, ProtoMapping.finishReason(ProtoMapping.finishReasonName(reason)));
            }
        }
        assertEquals("eos", ProtoMapping.finishReasonName(FinishReason.FINISH_REASON_EOS));
        assertEquals(FinishReason.FINISH_REASON_UNSPECIFIED, ProtoMapping.finishReason("weird"));
    }
}
