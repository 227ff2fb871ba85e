package dev.rlhf.policy.grpc;

import dev.rlhf.llama.generate.ContextOverflowException;
import dev.rlhf.llama.generate.FinishReason;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.platform.grpc.Cancellation;
import dev.rlhf.platform.grpc.StatusMapping;
import dev.rlhf.platform.grpc.StrictBindings;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.policy.domain.CancelledException;
import dev.rlhf.policy.domain.PolicyEngine;
import dev.rlhf.policy.domain.PolicyEngine.GenerateJob;
import dev.rlhf.policy.domain.PolicyUnavailableException;
import dev.rlhf.policy.domain.QueueFullException;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.GenerateResponse;
import dev.rlhf.proto.v1.GenerateStreamChunk;
import dev.rlhf.proto.v1.PolicyServiceGrpcService;
import dev.rlhf.proto.v1.PromptResponse;
import dev.rlhf.proto.v1.ScoreSequencesRequest;
import dev.rlhf.proto.v1.ScoreSequencesResponse;
import dev.rlhf.proto.v1.SequenceLogprobs;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.streams.ReadStream;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * gRPC binding of the policy service: request validation with the numbers in the message (DESIGN.md §3),
 * proto <-> domain mapping, and completion on the call's Vert.x context. Model work runs on the engine's
 * worker thread, never on the event loop.
 */
public final class PolicyGrpcService extends PolicyServiceGrpcService {
    private final PolicyEngine engine;
    private final Counter generatedTokens;
    private final PolicyConfig.Limits limits;
    private final StatusMapping statuses = StatusMapping.defaults()
            .with(ContextOverflowException.class, GrpcStatus.OUT_OF_RANGE)
            .with(QueueFullException.class, GrpcStatus.RESOURCE_EXHAUSTED)
            .with(PolicyUnavailableException.class, GrpcStatus.UNAVAILABLE)
            .with(CancelledException.class, GrpcStatus.CANCELLED);

    public PolicyGrpcService(PolicyEngine engine, Counter generatedTokens, PolicyConfig.Limits limits) {
        this.engine = engine;
        this.generatedTokens = generatedTokens;
        this.limits = limits;
    }

    /** Binds with strict parsing (invalid UTF-8 gets INVALID_ARGUMENT) and status mapping on every path. */
    @Override
    public void bind(io.vertx.grpc.server.GrpcServer server) {
        StrictBindings.unary(server, Generate, GenerateRequest.parser(), statuses, this::generate);
        StrictBindings.serverStreaming(server, GenerateStream, GenerateRequest.parser(), statuses,
                this::generateStream);
        StrictBindings.unary(server, ScoreSequences, ScoreSequencesRequest.parser(), statuses, this::scoreSequences);
    }

    @Override
    public Future<GenerateResponse> generate(GenerateRequest request) {
        Cancellation cancellation = Cancellation.current();
        Context context = Vertx.currentContext();
        return statuses.call(() -> complete(context, cancellation,
                engine.generate(toJob(request, limits, null, cancellation)), generated -> {
                    GenerateResponse.Builder b = GenerateResponse.newBuilder()
                            .setPolicyVersion(generated.policyVersion()).setPromptTokens(generated.promptTokens());
                    for (int id : generated.promptIds()) {
                        b.addPromptIds(id);
                    }
                    for (Sample s : generated.samples()) {
                        generatedTokens.increment(s.tokens().length);
                        b.addSamples(toProto(s));
                    }
                    return b.build();
                }));
    }

    @Override
    public Future<ReadStream<GenerateStreamChunk>> generateStream(GenerateRequest request) {
        Cancellation cancellation = Cancellation.current();
        Context context = Vertx.currentContext();
        return statuses.call(() -> {
            if (request.getParams().getN() > 1) {
                throw new IllegalArgumentException("GenerateStream streams one sample: n must be 1, got "
                        + request.getParams().getN());
            }
            ChunkStream<GenerateStreamChunk> stream = new ChunkStream<>(context);
            // The version is known only once the batch runs; chunks carry it from the final response.
            GenerateJob job = toJob(request, limits, (sample, token, logprob) -> stream.push(GenerateStreamChunk.newBuilder()
                    .addTokens(token).addLogprobs(logprob).build()), cancellation);
            engine.generate(job).whenComplete((generated, error) -> {
                if (error != null) {
                    stream.fail(statuses.toVertx(unwrap(error)));
                    return;
                }
                Sample s = generated.samples().get(0);
                generatedTokens.increment(s.tokens().length);
                stream.push(GenerateStreamChunk.newBuilder().setTextDelta(s.text())
                        .setFinishReason(toProto(s.finishReason())).setPolicyVersion(generated.policyVersion()).build());
                stream.end();
            });
            return Future.succeededFuture(stream);
        });
    }

    @Override
    public Future<ScoreSequencesResponse> scoreSequences(ScoreSequencesRequest request) {
        Cancellation cancellation = Cancellation.current();
        Context context = Vertx.currentContext();
        return statuses.call(() -> {
            if (request.getItemsCount() > limits.maxScoreItems()) {
                throw new IllegalArgumentException("too many items: " + request.getItemsCount() + ", at most "
                        + limits.maxScoreItems() + " (policy.max-score-items)");
            }
            List<String> prompts = new ArrayList<>();
            List<String> responses = new ArrayList<>();
            for (PromptResponse pr : request.getItemsList()) {
                checkSize("item prompt", pr.getPromptBytes().size(), limits);
                checkSize("item response", pr.getResponseBytes().size(), limits);
                prompts.add(pr.getPrompt());
                responses.add(pr.getResponse());
            }
            return complete(context, cancellation, engine.score(prompts, responses, cancellation::isCancelled),
                    scored -> {
                        ScoreSequencesResponse.Builder b = ScoreSequencesResponse.newBuilder()
                                .setPolicyVersion(scored.policyVersion());
                        for (int i = 0; i < scored.tokens().size(); i++) {
                            SequenceLogprobs.Builder s = SequenceLogprobs.newBuilder();
                            for (int t : scored.tokens().get(i)) {
                                s.addTokens(t);
                            }
                            for (float lp : scored.logprobs().get(i)) {
                                s.addLogprobs(lp);
                            }
                            b.addResults(s);
                        }
                        return b.build();
                    });
        });
    }

    private static void checkSize(String what, int bytes, PolicyConfig.Limits limits) {
        if (bytes > limits.maxPromptBytes()) {
            throw new IllegalArgumentException(what + " is " + bytes + " bytes, at most " + limits.maxPromptBytes()
                    + " (policy.max-prompt-bytes)");
        }
    }

    /**
     * Validates and converts a request; messages quote the offending values. The limits are checked first, in
     * long arithmetic where sizes add up, before anything is tokenized or allocated.
     */
    static GenerateJob toJob(GenerateRequest request, PolicyConfig.Limits limits,
                             dev.rlhf.llama.generate.GenerationRequest.TokenListener listener,
                             Cancellation cancellation) {
        if (!request.hasParams()) {
            throw new IllegalArgumentException("params are required (n, max_new_tokens, temperature, ...)");
        }
        var p = request.getParams();
        if (p.getMaxNewTokens() > limits.maxNewTokens()) {
            throw new IllegalArgumentException("max_new_tokens " + p.getMaxNewTokens() + " is above the limit "
                    + limits.maxNewTokens() + " (policy.max-new-tokens)");
        }
        checkSize("prompt", request.getPromptBytes().size(), limits);
        if (p.getStopCount() > limits.maxStopStrings()) {
            throw new IllegalArgumentException(p.getStopCount() + " stop strings, at most " + limits.maxStopStrings()
                    + " (policy.max-stop-strings)");
        }
        long stopBytes = 0;
        for (int i = 0; i < p.getStopCount(); i++) {
            stopBytes += p.getStopBytes(i).size();
        }
        if (stopBytes > limits.maxStopBytes()) {
            throw new IllegalArgumentException("stop strings total " + stopBytes + " bytes, at most "
                    + limits.maxStopBytes() + " (policy.max-stop-bytes)");
        }
        float topP = p.getTopP() == 0 ? 1f : p.getTopP(); // proto3 default 0 means "unset"
        SamplingParams params = new SamplingParams(p.getN(), p.getMaxNewTokens(), p.getTemperature(), topP,
                p.getTopK(), p.getSeed(), p.getStopList());
        return switch (request.getInputCase()) {
            case PROMPT -> {
                if (request.getPrompt().isEmpty()) {
                    throw new IllegalArgumentException("prompt is empty");
                }
                yield new GenerateJob(request.getPrompt(), null, params, listener, cancellation::isCancelled);
            }
            case PROMPT_IDS -> new GenerateJob(null,
                    request.getPromptIds().getIdsList().stream().mapToInt(Integer::intValue).toArray(), params, listener,
                    cancellation::isCancelled);
            case INPUT_NOT_SET -> throw new IllegalArgumentException("prompt is empty: set prompt or prompt_ids");
        };
    }

    /** Completes on the call's context; drops results for calls already over (their stream is closed). */
    private <D, P> Future<P> complete(Context context, Cancellation cancellation, CompletableFuture<D> work,
                                      java.util.function.Function<D, P> toProto) {
        Promise<P> promise = Promise.promise();
        work.whenComplete((value, error) -> context.runOnContext(v -> {
            if (cancellation.isCancelled()) {
                return;
            }
            if (error != null) {
                promise.fail(statuses.toVertx(unwrap(error)));
            } else {
                try {
                    promise.complete(toProto.apply(value));
                } catch (RuntimeException e) {
                    promise.fail(statuses.toVertx(e));
                }
            }
        }));
        return promise.future();
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    static dev.rlhf.proto.v1.Sample toProto(Sample s) {
        dev.rlhf.proto.v1.Sample.Builder b = dev.rlhf.proto.v1.Sample.newBuilder().setText(s.text())
                .setFinishReason(toProto(s.finishReason()));
        for (int t : s.tokens()) {
            b.addTokens(t);
        }
        for (float lp : s.logprobs()) {
            b.addLogprobs(lp);
        }
        return b.build();
    }

    static dev.rlhf.proto.v1.FinishReason toProto(FinishReason r) {
        return switch (r) {
            case EOS -> dev.rlhf.proto.v1.FinishReason.FINISH_REASON_EOS;
            case LENGTH -> dev.rlhf.proto.v1.FinishReason.FINISH_REASON_LENGTH;
            case STOP -> dev.rlhf.proto.v1.FinishReason.FINISH_REASON_STOP;
            case CANCELLED -> dev.rlhf.proto.v1.FinishReason.FINISH_REASON_UNSPECIFIED;
        };
    }

}
