package dev.rlhf.sampler.grpc;

import dev.rlhf.platform.grpc.CallOptions;
import dev.rlhf.platform.grpc.GrpcCaller;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.GenerateResponse;
import dev.rlhf.proto.v1.PolicyServiceGrpcClient;
import dev.rlhf.proto.v1.Sample;
import dev.rlhf.sampler.domain.PolicyPort;
import dev.rlhf.sampler.domain.Resilience;
import dev.rlhf.vocabulary.SamplingParams;
import java.util.List;
import java.util.concurrent.CompletionStage;

/** {@link PolicyPort} over {@code PolicyService.Generate}, retried behind the policy's circuit breaker. */
public final class GrpcPolicyPort implements PolicyPort {
    static final String SERVICE = "policy";

    private final GrpcCaller caller;
    private final CallOptions options;
    private final Resilience resilience;

    /**
     * @param options    the deadline of one attempt; retries belong to {@code resilience}, so one attempt here
     * @param resilience retries transient failures ({@link ServiceErrors#isTransient}) with this service's breaker
     */
    public GrpcPolicyPort(GrpcCaller caller, CallOptions options, Resilience resilience) {
        this.caller = caller;
        this.options = options;
        this.resilience = resilience;
    }

    /**
     * Fails with {@code ServiceUnavailableException} when the policy cannot answer after retries, and with
     * {@code RequestRejectedException} when it refuses the request (empty or too long prompt, bad parameters).
     */
    @Override
    public CompletionStage<Generation> generate(String prompt, SamplingParams settings) {
        GenerateRequest request = GenerateRequest.newBuilder()
                .setPrompt(prompt)
                .setParams(ProtoMapping.samplingParams(settings))
                .build();
        CompletionStage<GenerateResponse> response = resilience.call(
                () -> caller.call(PolicyServiceGrpcClient.Generate, request, options).toCompletionStage());
        return ServiceErrors.translate(SERVICE, response).thenApply(GrpcPolicyPort::toDomain);
    }

    static Generation toDomain(GenerateResponse response) {
        List<GeneratedText> samples = response.getSamplesList().stream().map(GrpcPolicyPort::toDomain).toList();
        return new Generation(samples, response.getPolicyVersion(),
                response.getPromptIdsList().stream().mapToInt(Integer::intValue).toArray());
    }

    private static GeneratedText toDomain(Sample sample) {
        int[] tokens = sample.getTokensList().stream().mapToInt(Integer::intValue).toArray();
        float[] logprobs = new float[sample.getLogprobsCount()];
        for (int i = 0; i < logprobs.length; i++) {
            logprobs[i] = sample.getLogprobs(i);
        }
        return new GeneratedText(sample.getText(), tokens, logprobs,
                ProtoMapping.finishReasonName(sample.getFinishReason()));
    }
}
