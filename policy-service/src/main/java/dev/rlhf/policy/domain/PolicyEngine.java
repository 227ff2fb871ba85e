package dev.rlhf.policy.domain;

import dev.rlhf.vocabulary.HotSwap;
import dev.rlhf.llama.generate.DecodeLoop;
import dev.rlhf.llama.generate.FinishReason;
import dev.rlhf.llama.generate.GenerationRequest;
import dev.rlhf.llama.generate.GenerationRequest.TokenListener;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;

/**
 * Runs all model work of the policy service on one worker thread with continuous batching: generation requests
 * join the running {@link DecodeLoop} between two decode steps, as long as their rows fit in
 * {@code maxBatchRows}, and each request completes as soon as its own rows finish; nobody waits for a batch to
 * fill or to drain. A lone one-row request with nothing else waiting runs on the batch-1 CPU decoder when the
 * version has one. Score requests run between two steps. The queue is bounded; a full queue rejects at once.
 * <p>Hot swap: a loop holds a lease on the version it started with and keeps decoding with it; once a newer
 * version is serving, requests stop joining, and the next loop starts on the new version when the old one is
 * empty. Every result carries the policy version that made it.
 * <p>Whatever the loop throws fails the requests in the loop only (an {@code Error} included: the caller gets
 * INTERNAL). A {@link VirtualMachineError} (out of memory, stack overflow) means the worker can no longer be
 * trusted: the engine fails every waiting request and refuses new ones with UNAVAILABLE, and tells {@link #onFatal}
 * (the service turns its health NOT_SERVING, so Kubernetes restarts it) instead of hanging its callers.
 */
public final class PolicyEngine implements AutoCloseable {
    /** Queue bound and the most rows (samples) decoding at once. */
    public record Options(int queueCapacity, int maxBatchRows) {
        public Options {
            if (queueCapacity < 1 || maxBatchRows < 1) {
                throw new IllegalArgumentException("queue capacity and max batch rows must be >= 1");
            }
        }
    }

    /** A generation request: exactly one of promptText / promptIds is set. */
    public record GenerateJob(String promptText, int[] promptIds, SamplingParams params, TokenListener listener,
                              BooleanSupplier cancelled) {
        public GenerateJob {
            if ((promptText == null) == (promptIds == null)) {
                throw new IllegalArgumentException("give a prompt text or prompt token ids");
            }
            if (promptText != null && promptText.isEmpty()) {
                throw new IllegalArgumentException("prompt is empty");
            }
            if (promptIds != null && promptIds.length == 0) {
                throw new IllegalArgumentException("prompt token ids are empty");
            }
            if (params == null) {
                throw new IllegalArgumentException("sampling parameters are required");
            }
            cancelled = cancelled == null ? () -> false : cancelled;
        }
    }

    /** Samples of one request and the version that produced them. */
    public record Generated(List<Sample> samples, long policyVersion, int[] promptIds) {
        public int promptTokens() {
            return promptIds.length;
        }
    }

    /** Teacher-forced log-probabilities of responses, with their token ids. */
    public record Scored(List<int[]> tokens, List<float[]> logprobs, long policyVersion) {}

    private sealed interface Job permits GenJob, ScoreJob {}

    private record GenJob(GenerateJob job, CompletableFuture<Generated> result) implements Job {}

    private record ScoreJob(List<String> prompts, List<String> responses, BooleanSupplier cancelled,
                            CompletableFuture<Scored> result) implements Job {}

    private final HotSwap<PolicyVersion> policies;
    private final Options options;
    private final BlockingQueue<Job> queue;
    private final IntConsumer batchRowsObserver;
    private final Thread worker;
    private volatile boolean running = true;
    private Job held; // taken from the queue but did not fit the current batch
    private final java.util.concurrent.atomic.AtomicLong cancelledRequests = new java.util.concurrent.atomic.AtomicLong();
    private volatile Runnable onCancelled = () -> { };
    private volatile Throwable fatal;
    private volatile java.util.function.Consumer<Throwable> onFatal = t -> { };

    public PolicyEngine(HotSwap<PolicyVersion> policies, Options options, IntConsumer batchRowsObserver) {
        this.policies = policies;
        this.options = options;
        this.queue = new ArrayBlockingQueue<>(options.queueCapacity());
        this.batchRowsObserver = batchRowsObserver == null ? rows -> { } : batchRowsObserver;
        this.worker = new Thread(this::workLoop, "policy-model-worker");
        this.worker.setDaemon(true);
        this.worker.start();
    }

    public CompletableFuture<Generated> generate(GenerateJob job) {
        CompletableFuture<Generated> f = new CompletableFuture<>();
        enqueue(new GenJob(job, f));
        return f;
    }

    public CompletableFuture<Scored> score(List<String> prompts, List<String> responses, BooleanSupplier cancelled) {
        if (prompts.isEmpty() || prompts.size() != responses.size()) {
            throw new IllegalArgumentException("need one or more (prompt, response) pairs, got " + prompts.size()
                    + " prompts and " + responses.size() + " responses");
        }
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i).isEmpty()) {
                throw new IllegalArgumentException("prompt " + i + " is empty");
            }
        }
        CompletableFuture<Scored> f = new CompletableFuture<>();
        enqueue(new ScoreJob(prompts, responses, cancelled == null ? () -> false : cancelled, f));
        return f;
    }

    private void enqueue(Job job) {
        if (fatal != null) {
            throw new PolicyUnavailableException(failedMessage());
        }
        if (!running) {
            throw new PolicyUnavailableException("policy engine is shutting down");
        }
        if (!queue.offer(job)) {
            throw new QueueFullException(options.queueCapacity());
        }
        // The worker may have failed (and drained the queue) between the checks above and the offer: a job left in
        // a queue nobody takes from would hang its caller.
        if ((fatal != null || !running) && queue.remove(job)) {
            throw new PolicyUnavailableException(fatal != null ? failedMessage() : "policy engine is shutting down");
        }
    }

    public int queued() {
        return queue.size();
    }

    /** Requests whose caller went away before or during generation (their work was stopped). */
    public long cancelledRequests() {
        return cancelledRequests.get();
    }

    /** Called on the worker thread each time a request is stopped because its caller went away. */
    public void onCancelled(Runnable hook) {
        this.onCancelled = hook == null ? () -> { } : hook;
    }

    /** Called once, on the worker thread, if the worker stops for good; the service then stops serving. */
    public void onFatal(java.util.function.Consumer<Throwable> hook) {
        this.onFatal = hook == null ? t -> { } : hook;
    }

    /** Why the worker stopped for good, or null while it runs. */
    public Throwable fatal() {
        return fatal;
    }

    private String failedMessage() {
        return "the policy worker failed (" + fatal + ") and cannot continue; the service must be restarted";
    }

    /** Fails every request still waiting, then tells the service. */
    private void fail(Throwable cause) {
        if (fatal != null) {
            return;
        }
        fatal = cause;
        PolicyUnavailableException unavailable = new PolicyUnavailableException(failedMessage());
        if (held != null) {
            complete(held, unavailable);
            held = null;
        }
        for (Job j; (j = queue.poll()) != null; ) {
            complete(j, unavailable);
        }
        onFatal.accept(cause);
    }

    private static void complete(Job job, Throwable error) {
        if (job instanceof GenJob g) {
            g.result().completeExceptionally(error);
        } else if (job instanceof ScoreJob s) {
            s.result().completeExceptionally(error);
        }
    }

    private void countCancelled() {
        cancelledRequests.incrementAndGet();
        onCancelled.run();
    }

    /** The running decode loop, the lease on the version it decodes with, and the requests in it. */
    private DecodeLoop loop;
    private HotSwap.Lease<PolicyVersion> loopLease;
    private final List<GenJob> inFlight = new ArrayList<>();

    private void workLoop() {
        try {
            while ((running || !queue.isEmpty() || held != null || loop != null) && fatal == null) {
                if (loop == null) {
                    Job first = held != null ? held : queue.poll(100, TimeUnit.MILLISECONDS);
                    held = null;
                    if (first != null) {
                        start(first);
                    }
                    continue;
                }
                admitWaiting();
                step();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            fail(t);
        } finally {
            closeLoop(new PolicyUnavailableException("the policy worker stopped"));
            if (running && fatal == null) {
                fail(new IllegalStateException("the policy worker thread stopped"));
            }
        }
    }

    /** Runs a job with no loop running: a score job at once, a lone one-row request on its own, else a new loop. */
    private void start(Job first) {
        if (first instanceof ScoreJob s) {
            runScore(s);
            return;
        }
        GenJob job = (GenJob) first;
        HotSwap.Lease<PolicyVersion> lease = policies.acquire();
        if (lease == null) {
            job.result().completeExceptionally(new PolicyUnavailableException("no policy loaded yet"));
            return;
        }
        if (job.job().params().n() == 1 && queue.isEmpty() && lease.value().cpuDecoding()) {
            // Alone and one row: the batch-1 CPU decoder is 3-5x faster than a DJL loop of one row. Requests
            // that arrive meanwhile wait for it, then share a loop.
            try (lease) {
                runAlone(job, lease);
            }
            return;
        }
        loop = lease.value().generator().newLoop(options.maxBatchRows());
        loopLease = lease;
        admit(List.of(job));
    }

    /** Admits waiting requests that fit, unless the version changed: the running loop then drains first. */
    private void admitWaiting() {
        List<GenJob> joining = new ArrayList<>();
        int rows = 0;
        while (true) {
            Job next = held != null ? held : queue.poll();
            held = null;
            if (next == null) {
                break;
            }
            if (next instanceof ScoreJob s) {
                runScore(s); // between two steps
                continue;
            }
            GenJob g = (GenJob) next;
            if (policies.version() != loopLease.version() || rows + g.job().params().n() > loop.freeRows()) {
                held = next; // joins when rows free up, or starts the next version's loop
                break;
            }
            joining.add(g);
            rows += g.job().params().n();
        }
        if (!joining.isEmpty()) {
            admit(joining);
        }
    }

    /** Tokenizes and checks each request (a bad one fails alone) and lets the rest join the loop. */
    private void admit(List<GenJob> jobs) {
        List<GenJob> accepted = new ArrayList<>();
        List<GenerationRequest> requests = new ArrayList<>();
        List<java.util.function.Consumer<List<Sample>>> done = new ArrayList<>();
        long version = loopLease.version();
        for (GenJob j : jobs) {
            GenerationRequest request = request(j, loopLease.value());
            if (request != null) {
                requests.add(request);
                accepted.add(j);
                done.add(samples -> {
                    inFlight.remove(j);
                    complete(j, samples, version, request);
                });
            }
        }
        if (!requests.isEmpty()) {
            inFlight.addAll(accepted);
            guarded(() -> loop.admit(requests, done));
        }
        closeLoopIfEmpty();
    }

    /**
     * The job as a request on {@code policy} (prompt tokenized, limits checked), or null when it was cancelled or is
     * invalid (a context overflow, say): its future is then completed here, and nothing else fails with it.
     */
    private GenerationRequest request(GenJob j, PolicyVersion policy) {
        GenerateJob job = j.job();
        if (job.cancelled().getAsBoolean()) {
            countCancelled();
            j.result().completeExceptionally(new CancelledException());
            return null;
        }
        try {
            int[] ids = job.promptText() != null
                    ? PromptFormat.chatPrompt(policy.tokenizer(), job.promptText()) : job.promptIds();
            policy.generator().validate(List.of(ids), job.params());
            return new GenerationRequest(ids, job.params(), 0, job.listener(), job.cancelled());
        } catch (RuntimeException e) {
            j.result().completeExceptionally(e);
            return null;
        }
    }

    /** Hands a request's samples to its caller (counting it when its caller went away mid-way). */
    private void complete(GenJob j, List<Sample> samples, long version, GenerationRequest request) {
        if (samples.stream().anyMatch(x -> x.finishReason() == FinishReason.CANCELLED)) {
            countCancelled();
        }
        j.result().complete(new Generated(samples, version, request.prompt()));
    }

    /** One decode step of every row in the loop; an emptied loop is closed (and its version's lease released). */
    private void step() {
        batchRowsObserver.accept(loop.activeRows());
        guarded(loop::step);
        closeLoopIfEmpty();
    }

    private void closeLoopIfEmpty() {
        if (loop != null && loop.isEmpty()) {
            closeLoop(null);
        }
    }

    /**
     * Runs loop work; whatever it throws fails the requests in the loop only (an {@code Error} included), and a
     * {@link VirtualMachineError} also stops the worker for good.
     */
    private void guarded(Runnable work) {
        try {
            work.run();
        } catch (Throwable t) {
            if (t instanceof VirtualMachineError) {
                fail(t); // the worker itself can no longer be trusted: stop serving first, then ...
            }
            closeLoop(t); // ... fail this loop's requests (futures already completed stay as they are)
        }
    }

    private void closeLoop(Throwable failure) {
        if (failure != null) {
            inFlight.forEach(j -> j.result().completeExceptionally(failure));
        }
        inFlight.clear();
        if (loop != null) {
            try {
                loop.close();
            } finally {
                loop = null;
                loopLease.close();
                loopLease = null;
            }
        }
    }

    private void runAlone(GenJob j, HotSwap.Lease<PolicyVersion> lease) {
        GenerationRequest request = request(j, lease.value());
        if (request == null) {
            return;
        }
        try {
            batchRowsObserver.accept(1);
            complete(j, lease.value().generator().generateAll(List.of(request)).samples().get(0), lease.version(),
                    request);
        } catch (Throwable t) {
            if (t instanceof VirtualMachineError) {
                fail(t);
            }
            j.result().completeExceptionally(t);
        }
    }

    private void runScore(ScoreJob job) {
        if (job.cancelled().getAsBoolean()) {
            countCancelled();
            job.result().completeExceptionally(new CancelledException());
            return;
        }
        try (HotSwap.Lease<PolicyVersion> lease = policies.acquire()) {
            if (lease == null) {
                job.result().completeExceptionally(new PolicyUnavailableException("no policy loaded yet"));
                return;
            }
            LlamaTokenizer tok = lease.value().tokenizer();
            List<int[]> prompts = new ArrayList<>();
            List<int[]> responses = new ArrayList<>();
            for (int i = 0; i < job.prompts().size(); i++) {
                prompts.add(PromptFormat.chatPrompt(tok, job.prompts().get(i)));
                responses.add(tok.encode(job.responses().get(i)));
            }
            List<float[]> lp = lease.value().scorer().responseLogProbs(prompts, responses);
            job.result().complete(new Scored(responses, lp, lease.version()));
        } catch (RuntimeException e) {
            job.result().completeExceptionally(e);
        }
    }

    /** Stops taking requests, finishes the queued ones, and waits for the worker. */
    @Override
    public void close() {
        running = false;
        try {
            worker.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
