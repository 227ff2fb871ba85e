package dev.rlhf.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.proto.v1.Candidate;
import dev.rlhf.proto.v1.CandidateScores;
import dev.rlhf.proto.v1.FinishReason;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.proto.v1.Rollout;
import dev.rlhf.proto.v1.SamplingParams;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class ProtobufSerdeTest {

    static final byte[] GARBAGE = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x42};

    private final ProtobufSerializer<Rollout> serializer = new ProtobufSerializer<>();
    private final ProtobufDeserializer<Rollout> deserializer = new ProtobufDeserializer<>(Rollout.parser());

    @Test
    void rolloutRoundTrips() {
        Rollout rollout = Rollout.newBuilder()
                .setPrompt(Prompt.newBuilder().setId("p-1").setText("What is 2+3?").setSafetyTagged(true))
                .addCandidates(Candidate.newBuilder().setText("5").addTokens(42).addTokens(2).addLogprobs(-0.25f)
                        .addLogprobs(-1.5f).setFinishReason(FinishReason.FINISH_REASON_EOS)
                        .setScores(CandidateScores.newBuilder().setHelpfulness(0.9f).setSafety(0.99f)
                                .setCombined(0.9f)))
                .addCandidates(Candidate.newBuilder().setText("6"))
                .setPolicyVersion(7)
                .setSampling(SamplingParams.newBuilder().setN(2).setTemperature(0.8f).setSeed(1234))
                .setBestIndex(0)
                .build();

        byte[] bytes = serializer.serialize("rlhf.rollouts", rollout);

        assertEquals(rollout, deserializer.deserialize("rlhf.rollouts", bytes));
        assertEquals(new DecodeResult.Decoded<>(rollout), deserializer.decode(bytes));
    }

    @Test
    void nullStaysNullForTombstones() {
        assertNull(serializer.serialize("rlhf.policy-updates", null));
        assertNull(deserializer.deserialize("rlhf.policy-updates", null));
    }

    @Test
    void garbageThrowsFromDeserializeButDecodeKeepsTheOriginalBytes() {
        SerializationException thrown = assertThrows(SerializationException.class,
                () -> deserializer.deserialize("rlhf.rollouts", GARBAGE));
        assertTrue(thrown.getMessage().contains("rlhf.rollouts"), thrown.getMessage());

        DecodeResult<Rollout> result = deserializer.decode(GARBAGE);

        DecodeResult.Undecodable<Rollout> undecodable = assertInstanceOf(DecodeResult.Undecodable.class, result);
        assertArrayEquals(GARBAGE, undecodable.raw());
        assertTrue(undecodable.error().startsWith("undecodable Protobuf value"), undecodable.error());
    }

    @Test
    void missingValueIsUndecodable() {
        assertInstanceOf(DecodeResult.Undecodable.class, deserializer.decode(null));
    }
}
