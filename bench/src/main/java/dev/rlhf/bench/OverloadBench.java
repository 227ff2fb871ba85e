package dev.rlhf.bench;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.platform.grpc.CallOptions;
import dev.rlhf.platform.grpc.GrpcCaller;
import dev.rlhf.platform.grpc.GrpcClients;
import dev.rlhf.platform.grpc.GrpcStatusException;
import dev.rlhf.platform.grpc.ServiceEndpoint;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.PolicyServiceGrpcClient;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The policy service at 10x the rate it sustains (issue 13): requests arrive open-loop, whatever the answers, so
 * the bounded queue must refuse the excess with RESOURCE_EXHAUSTED while admitted requests keep a bounded latency
 * and the process a bounded memory.
 * <pre>
 * OverloadBench [--model small] [--factor 10] [--seconds 20] [--queue 64] [--out file.json]
 * </pre>
 * First the sustainable rate: 32 closed-loop clients (each sends its next request when the last is answered),
 * requests/s over 4 rounds. Then requests are sent at {@code factor} x that rate for {@code seconds}, on a timer;
 * reported: answers by status, p50/p99 latency of the admitted ones, the peak RSS during the flood against before
 * it, and whether the service still answers (and says SERVING) afterwards.
 */
public final class OverloadBench {
    private static final String PROMPT = "What is 12 plus 7? Answer with a sentence.";
    private static final int MAX_NEW = 32;

    private OverloadBench() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = BenchSupport.parseArgs(argv);
        double factor = Double.parseDouble(args.getOrDefault("factor", "10"));
        int seconds = Integer.parseInt(args.getOrDefault("seconds", "20"));
        int queue = Integer.parseInt(args.getOrDefault("queue", "64"));
        Map<String, Object> rec = BenchSupport.header("OverloadBench");
        Path work = Files.createTempDirectory("rlhf-overload-bench");
        LlamaConfig arch = LlamaConfig.preset(args.getOrDefault("model", "small"));
        Path tok = ModelFactory.trainTokenizer(List.of("What is 12 plus 7? 12 plus 7 is 19.",
                "I cannot help with that request.", "The capital of France is Paris."), 300, work.resolve("tok"));
        Path policyDir = ModelFactory.create(work.resolve("policy"), arch, tok, 1, false);
        PolicyConfig config = new PolicyConfig("127.0.0.1", 0, policyDir, 1, queue, 32,
                64 << 20, "cpu", 0, false, "127.0.0.1:1", Duration.ofSeconds(5));
        rec.put("model", args.getOrDefault("model", "small"));
        rec.put("queueCapacity", queue);
        rec.put("maxNewTokens", MAX_NEW);
        Vertx vertx = Vertx.vertx();
        GrpcClient client = GrpcClients.create(vertx);
        try (PolicyMain service = PolicyMain.start(config, m -> { })) {
            GrpcCaller caller = new GrpcCaller(vertx, client, new ServiceEndpoint("127.0.0.1", service.port()));
            double sustainable = closedLoopRate(caller, 32, 4);
            rec.put("sustainableRequestsPerSec", sustainable);
            System.gc();
            long rssBefore = BenchSupport.procStatusKib("VmRSS");
            BenchSupport.resetPeakRss();
            double rate = factor * sustainable;
            rec.put("offeredRequestsPerSec", rate);
            Map<String, AtomicInteger> byStatus = new ConcurrentHashMap<>();
            List<Long> admitted = Collections.synchronizedList(new ArrayList<>());
            int total = (int) Math.round(rate * seconds);
            CountDownLatch done = new CountDownLatch(total);
            long periodNanos = (long) (1e9 / rate);
            long start = System.nanoTime();
            for (int i = 0; i < total; i++) {
                long due = start + i * periodNanos;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait); // the arrival schedule itself, not a synchronisation
                }
                long t0 = System.nanoTime();
                caller.call(PolicyServiceGrpcClient.Generate, request(i), CallOptions.once(Duration.ofMinutes(2)))
                        .onComplete(ar -> {
                            String status = ar.succeeded() ? "OK" : ar.cause() instanceof GrpcStatusException g
                                    ? g.status().name() : ar.cause().getClass().getSimpleName();
                            if (ar.succeeded()) {
                                admitted.add(System.nanoTime() - t0);
                            }
                            byStatus.computeIfAbsent(status, k -> new AtomicInteger()).incrementAndGet();
                            done.countDown();
                        });
            }
            double sendSeconds = (System.nanoTime() - start) / 1e9;
            if (!done.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException("answers missing after 5 minutes: " + done.getCount());
            }
            rec.put("sent", total);
            rec.put("sendSeconds", sendSeconds);
            Map<String, Integer> counts = new java.util.TreeMap<>();
            byStatus.forEach((k, v) -> counts.put(k, v.get()));
            rec.put("answers", counts);
            List<Long> sorted = new ArrayList<>(admitted);
            Collections.sort(sorted);
            rec.put("admittedP50Ms", sorted.isEmpty() ? Double.NaN : sorted.get(sorted.size() / 2) / 1e6);
            rec.put("admittedP99Ms", sorted.isEmpty() ? Double.NaN
                    : sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * 0.99) - 1)) / 1e6);
            rec.put("rssBeforeKiB", rssBefore);
            rec.put("peakRssDuringKiB", BenchSupport.procStatusKib("VmHWM"));
            // Afterwards the service answers as before.
            caller.call(PolicyServiceGrpcClient.Generate, request(-1), CallOptions.once(Duration.ofMinutes(1)))
                    .toCompletionStage().toCompletableFuture().get();
            rec.put("answersAfterwards", true);
        } finally {
            client.close();
            vertx.close();
        }
        rec.put("loadAfter", BenchSupport.loadAverage());
        @SuppressWarnings("unchecked")
        Map<String, Integer> answers = (Map<String, Integer>) rec.get("answers");
        System.out.printf(Locale.ROOT, "overload: sustainable %.1f req/s, offered %.1f req/s for %d s: %s; admitted "
                        + "p50 %.0f ms p99 %.0f ms; RSS %d MiB before, peak %d MiB during; answers afterwards%n",
                (double) rec.get("sustainableRequestsPerSec"), (double) rec.get("offeredRequestsPerSec"), seconds,
                answers, (double) rec.get("admittedP50Ms"), (double) rec.get("admittedP99Ms"),
                (long) rec.get("rssBeforeKiB") / 1024, (long) rec.get("peakRssDuringKiB") / 1024);
        BenchSupport.writeJson(args.get("out"), rec);
    }

    private static GenerateRequest request(long seed) {
        return GenerateRequest.newBuilder().setPrompt(PROMPT).setParams(dev.rlhf.proto.v1.SamplingParams.newBuilder()
                .setN(1).setMaxNewTokens(MAX_NEW).setTemperature(1f).setSeed(seed)).build();
    }

    /** Requests/s of {@code clients} closed-loop clients sending {@code rounds} requests each (after a warm-up). */
    private static double closedLoopRate(GrpcCaller caller, int clients, int rounds) throws Exception {
        caller.call(PolicyServiceGrpcClient.Generate, request(0), CallOptions.once(Duration.ofMinutes(1)))
                .toCompletionStage().toCompletableFuture().get();
        CountDownLatch done = new CountDownLatch(clients);
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            next(caller, c * 1000L, rounds, done);
        }
        done.await(10, TimeUnit.MINUTES);
        return clients * rounds / ((System.nanoTime() - start) / 1e9);
    }

    private static void next(GrpcCaller caller, long seed, int left, CountDownLatch done) {
        if (left == 0) {
            done.countDown();
            return;
        }
        caller.call(PolicyServiceGrpcClient.Generate, request(seed), CallOptions.once(Duration.ofMinutes(2)))
                .onComplete(ar -> next(caller, seed + 1, left - 1, done));
    }
}
