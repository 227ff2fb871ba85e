package dev.rlhf.sampler.grpc;

import dev.rlhf.proto.v1.FinishReason;
import dev.rlhf.proto.v1.SamplingParams;
import java.util.Locale;

/** Domain values as rlhf.v1 messages and back, for the gRPC ports and the Kafka records alike. */
public final class ProtoMapping {
    private static final String PREFIX = "FINISH_REASON_";

    private ProtoMapping() {
    }

    /** The sampling parameters sent to the policy, also recorded in each {@code Rollout}. */
    public static SamplingParams samplingParams(dev.rlhf.vocabulary.SamplingParams settings) {
        return SamplingParams.newBuilder()
                .setN(settings.n())
                .setMaxNewTokens(settings.maxNewTokens())
                .setTemperature((float) settings.temperature())
                .setTopP((float) settings.topP())
                .setTopK(settings.topK())
                .setSeed(settings.seed())
                .addAllStop(settings.stop())
                .build();
    }

    /** {@code FINISH_REASON_EOS} as {@code eos}: the domain keeps finish reasons as plain names. */
    public static String finishReasonName(FinishReason reason) {
        FinishReason known = reason == FinishReason.UNRECOGNIZED ? FinishReason.FINISH_REASON_UNSPECIFIED : reason;
        String name = known.name();
        return name.substring(PREFIX.length()).toLowerCase(Locale.ROOT);
    }

    /** The inverse of {@link #finishReasonName}; an unknown name is {@code FINISH_REASON_UNSPECIFIED}. */
    public static FinishReason finishReason(String name) {
        try {
            return FinishReason.valueOf(PREFIX + name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return FinishReason.FINISH_REASON_UNSPECIFIED;
        }
    }
}
