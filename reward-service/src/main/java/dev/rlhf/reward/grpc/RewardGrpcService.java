package dev.rlhf.reward.grpc;

import dev.rlhf.platform.grpc.BlockingExecutor;
import dev.rlhf.platform.grpc.GrpcStatusException;
import dev.rlhf.platform.grpc.StatusMapping;
import dev.rlhf.platform.grpc.StrictBindings;
import dev.rlhf.proto.v1.RewardScore;
import dev.rlhf.proto.v1.RewardServiceGrpcService;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.llama.reward.RewardModel.NonFiniteScoreException;
import dev.rlhf.vocabulary.HotSwap;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServer;
import java.util.List;
import java.util.Locale;
import java.util.function.IntConsumer;

/**
 * gRPC binding of the reward service (DESIGN.md §3): validates a Score request with the numbers in the message,
 * scores it on the model worker (never the event loop) with the model serving when the work starts, and maps
 * the scores to proto. A non-finite score fails the call; it is never sent as a number.
 */
public final class RewardGrpcService extends RewardServiceGrpcService {
    /** How the service's own failures reach the caller; the executor maps what the model work throws. */
    public static final StatusMapping STATUSES = StatusMapping.defaults();

    private final HotSwap<RewardModel> models;
    private final BlockingExecutor worker;
    private final int maxResponses;
    private final int maxTextBytes;
    private final IntConsumer batchSizes;

    /**
     * @param worker       runs model work; its queue bound is what turns overload into RESOURCE_EXHAUSTED
     * @param maxResponses most responses one call may carry ({@code reward.max-responses})
     * @param maxTextBytes largest prompt and largest response in UTF-8 bytes ({@code reward.max-text-bytes})
     * @param batchSizes   told the number of responses of each scored call
     */
    public RewardGrpcService(HotSwap<RewardModel> models, BlockingExecutor worker, int maxResponses,
                             int maxTextBytes, IntConsumer batchSizes) {
        this.models = models;
        this.worker = worker;
        this.maxResponses = maxResponses;
        this.maxTextBytes = maxTextBytes;
        this.batchSizes = batchSizes;
    }

    /** Binds with strict parsing, so a request with invalid UTF-8 gets INVALID_ARGUMENT instead of a reset. */
    @Override
    public void bind(GrpcServer server) {
        StrictBindings.unary(server, Score, ScoreRequest.parser(), STATUSES, this::score);
    }

    @Override
    public Future<ScoreResponse> score(ScoreRequest request) {
        return STATUSES.call(() -> {
            validate(request);
            if (models.version() < 0) {
                throw unavailable();
            }
            return worker.submit(cancellation -> {
                try (HotSwap.Lease<RewardModel> lease = models.acquire()) {
                    if (lease == null) {
                        throw unavailable();
                    }
                    return score(lease.value(), request.getPrompt(), request.getResponsesList(),
                            truncated(request));
                }
            });
        });
    }

    /** Messages quote the offending values, so the caller can fix the request without reading our code. */
    void validate(ScoreRequest request) {
        if (request.getPrompt().isEmpty()) {
            throw new IllegalArgumentException("prompt is empty");
        }
        int n = request.getResponsesCount();
        if (n == 0) {
            throw new IllegalArgumentException("no responses to score: send 1 to " + maxResponses + " responses");
        }
        if (n > maxResponses) {
            throw new IllegalArgumentException("too many responses: got " + n + ", at most " + maxResponses
                    + " per call");
        }
        if (request.getPromptBytes().size() > maxTextBytes) {
            throw new IllegalArgumentException("prompt is " + request.getPromptBytes().size() + " bytes, at most "
                    + maxTextBytes + " (reward.max-text-bytes)");
        }
        for (int i = 0; i < n; i++) {
            int bytes = request.getResponsesBytes(i).size();
            if (bytes > maxTextBytes) {
                throw new IllegalArgumentException("response " + i + " is " + bytes + " bytes, at most "
                        + maxTextBytes + " (reward.max-text-bytes)");
            }
        }
        if (request.getTruncatedCount() != 0 && request.getTruncatedCount() != n) {
            throw new IllegalArgumentException("truncated has " + request.getTruncatedCount() + " flags for " + n
                    + " responses: send none or one per response");
        }
    }

    private static boolean[] truncated(ScoreRequest request) {
        boolean[] t = new boolean[request.getResponsesCount()];
        for (int i = 0; i < request.getTruncatedCount(); i++) {
            t[i] = request.getTruncated(i);
        }
        return t;
    }

    private ScoreResponse score(RewardModel model, String prompt, List<String> responses, boolean[] truncated) {
        List<RewardModel.Score> scores;
        try {
            scores = model.score(java.util.Collections.nCopies(responses.size(), prompt), responses, truncated);
        } catch (NonFiniteScoreException e) {
            // The checkpoint is broken, not the request: retrying will not help until a new version is served.
            throw new GrpcStatusException(GrpcStatus.FAILED_PRECONDITION, kindName(model.kind())
                    + " reward model version " + model.version() + ": " + e.getMessage(), e);
        }
        batchSizes.accept(responses.size());
        ScoreResponse.Builder response = ScoreResponse.newBuilder()
                .setModelKind(toProto(model.kind()))
                .setModelVersion(model.version());
        for (RewardModel.Score s : scores) {
            response.addScores(RewardScore.newBuilder().setRaw((float) s.raw())
                    .setProbability((float) s.probability()));
        }
        return response.build();
    }

    private static GrpcStatusException unavailable() {
        return GrpcStatusException.unavailable("no reward model is loaded yet; retry shortly");
    }

    static dev.rlhf.proto.v1.RewardKind toProto(RewardKind kind) {
        return switch (kind) {
            case HELPFULNESS -> dev.rlhf.proto.v1.RewardKind.REWARD_KIND_HELPFULNESS;
            case SAFETY -> dev.rlhf.proto.v1.RewardKind.REWARD_KIND_SAFETY;
        };
    }

    private static String kindName(RewardKind kind) {
        return kind.name().toLowerCase(Locale.ROOT);
    }
}
