package dev.rlhf.sampler.grpc;

import dev.rlhf.platform.grpc.CallOptions;
import dev.rlhf.platform.grpc.GrpcCaller;
import dev.rlhf.proto.v1.RewardKind;
import dev.rlhf.proto.v1.RewardServiceGrpcClient;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import dev.rlhf.sampler.domain.Resilience;
import dev.rlhf.sampler.domain.RewardPort;
import dev.rlhf.sampler.domain.ServiceUnavailableException;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** {@link RewardPort} over {@code RewardService.Score} of one reward model kind, behind that service's breaker. */
public final class GrpcRewardPort implements RewardPort {
    private final RewardKind kind;
    private final String service;
    private final GrpcCaller caller;
    private final CallOptions options;
    private final Resilience resilience;

    /**
     * @param kind       the model this address must serve; an answer from the other kind is refused, since
     *                   swapped addresses would silently invert the LLaMA 2 combination rule
     * @param options    the deadline of one attempt; retries belong to {@code resilience}
     */
    public GrpcRewardPort(RewardKind kind, GrpcCaller caller, CallOptions options, Resilience resilience) {
        this.kind = kind;
        this.service = "reward-" + kind.name().substring("REWARD_KIND_".length()).toLowerCase(Locale.ROOT);
        this.caller = caller;
        this.options = options;
        this.resilience = resilience;
    }

    @Override
    public CompletionStage<Scores> score(String prompt, List<String> responses) {
        return score(prompt, responses, new boolean[responses.size()]);
    }

    @Override
    public CompletionStage<Scores> score(String prompt, List<String> responses, boolean[] truncated) {
        ScoreRequest.Builder b = ScoreRequest.newBuilder().setPrompt(prompt).addAllResponses(responses);
        for (boolean t : truncated) {
            b.addTruncated(t);
        }
        ScoreRequest request = b.build();
        CompletionStage<ScoreResponse> response = resilience.call(
                () -> caller.call(RewardServiceGrpcClient.Score, request, options).toCompletionStage());
        return ServiceErrors.translate(service, response).thenCompose(this::toDomain);
    }

    private CompletionStage<Scores> toDomain(ScoreResponse response) {
        if (response.getModelKind() != RewardKind.REWARD_KIND_UNSPECIFIED && response.getModelKind() != kind) {
            // A deployment mistake, not a bad prompt: keep the prompt for when the address is fixed.
            return CompletableFuture.failedFuture(new ServiceUnavailableException(service, caller.endpoint()
                    + " serves " + response.getModelKind() + ", expected " + kind + "; check the sampler's reward "
                    + "addresses", null));
        }
        int count = response.getScoresCount();
        double[] raw = new double[count];
        double[] probability = new double[count];
        for (int i = 0; i < count; i++) {
            raw[i] = response.getScores(i).getRaw();
            probability[i] = response.getScores(i).getProbability();
        }
        return CompletableFuture.completedFuture(new Scores(raw, probability, response.getModelVersion()));
    }
}
