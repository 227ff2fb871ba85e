package dev.rlhf.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.config.LlamaConfig;
import dev.rlhf.llama.generate.GenerationRequest;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.platform.grpc.CallOptions;
import dev.rlhf.platform.grpc.GrpcCaller;
import dev.rlhf.platform.grpc.GrpcClients;
import dev.rlhf.platform.grpc.ServiceEndpoint;
import dev.rlhf.platform.kafka.EmbeddedKafka;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.TopicAdmin;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.proto.v1.BestSample;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.GenerateResponse;
import dev.rlhf.proto.v1.PolicyServiceGrpcClient;
import dev.rlhf.proto.v1.Prompt;
import dev.rlhf.proto.v1.RewardServiceGrpcClient;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.reward.RewardMain;
import dev.rlhf.reward.config.RewardConfig;
import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.sampler.SamplerMain;
import dev.rlhf.sampler.config.SamplerConfig;
import io.vertx.core.Vertx;
import io.vertx.grpc.client.GrpcClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Service benchmarks: policy-service tokens/s and latency at 1, 8 and 32 concurrent gRPC clients against the
 * in-process batched engine on the same model and batch sizes; reward-service scored responses/s; sampler
 * prompts/s end to end at N = 4 and 16, with where the time goes.
 *
 * <p>Run: {@code java -cp ... dev.rlhf.bench.ServiceBench --out bench/out/services.json [--model small]}.
 */
public final class ServiceBench {
    private static final int MAX_NEW = 64;
    private static final String PROMPT = "What is 12 plus 7? Answer with a sentence.";

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --key value pairs, got '" + argv[i] + "'");
            }
            args.put(argv[i].substring(2), argv[i + 1]);
        }
        Path work = Files.createTempDirectory("rlhf-service-bench");
        Path out = Path.of(args.getOrDefault("out", "bench/out/services.json"));
        LlamaConfig arch = LlamaConfig.preset(args.getOrDefault("model", "small"));
        Path tok = ModelFactory.trainTokenizer(corpus(), 1024, work.resolve("tokenizer"));
        Path policyDir = ModelFactory.create(work.resolve("policy"), arch, tok, 1, false);
        Path helpDir = ModelFactory.create(work.resolve("help"), LlamaConfig.preset("tiny"), tok, 2, true);
        Path safeDir = ModelFactory.create(work.resolve("safe"), LlamaConfig.preset("tiny"), tok, 3, true);
        JsonObject results = new JsonObject();
        results.addProperty("policy_model", args.getOrDefault("model", "small") + " " + arch);
        results.add("policy", policyBench(policyDir));
        try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
            try (Admin admin = KafkaClients.admin(kafka.bootstrapServers(), "bench")) {
                new TopicAdmin(1, (short) 1).ensureTopics(admin);
            }
            Duration grace = Duration.ofSeconds(5);
            try (RewardMain help = RewardMain.start(new RewardConfig(RewardKind.HELPFULNESS, "127.0.0.1", 0, helpDir, 1,
                    64, 256, 64 << 20, "cpu", 0, false, kafka.bootstrapServers(), grace), m -> { });
                 RewardMain safe = RewardMain.start(new RewardConfig(RewardKind.SAFETY, "127.0.0.1", 0, safeDir, 1,
                         64, 256, 64 << 20, "cpu", 0, false, kafka.bootstrapServers(), grace), m -> { });
                 PolicyMain policy = PolicyMain.start(policyConfig(policyDir, kafka.bootstrapServers()), m -> { })) {
                results.add("reward", rewardBench(help.port()));
                JsonObject sampler = new JsonObject();
                for (int n : new int[] {4, 16}) {
                    sampler.add("n" + n, samplerBench(kafka.bootstrapServers(), policy, help, safe, n,
                            n == 4 ? 48 : 16));
                }
                results.add("sampler", sampler);
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, new GsonBuilder().setPrettyPrinting().create().toJson(results) + "\n");
        System.out.println(new GsonBuilder().setPrettyPrinting().create().toJson(results));
    }

    private static List<String> corpus() {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            texts.add("What is " + i + " plus " + (i % 13) + "? " + i + " plus " + (i % 13) + " is " + (i + i % 13)
                    + ". I cannot help with that request. The capital of France is Paris.");
        }
        return texts;
    }

    private static PolicyConfig policyConfig(Path dir, String kafka) {
        // -Dbench.maxBatchRows: the policy's max-batch-rows (32 in every table so far).
        return new PolicyConfig("127.0.0.1", 0, dir, 1, 1024, Integer.getInteger("bench.maxBatchRows", 32), 64 << 20,
                "cpu", 0, false, kafka, Duration.ofSeconds(5));
    }

    /** Same requests through the in-process engine and through the service at 1, 8, 32 concurrent clients. */
    private static JsonObject policyBench(Path dir) throws Exception {
        JsonObject out = new JsonObject();
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
             dev.rlhf.llama.tokenizer.LlamaTokenizer tokenizer = dev.rlhf.llama.tokenizer.LlamaTokenizer.load(dir)) {
            // The engine the policy service wraps: the same checkpoint, tokenizer and generator, in process.
            dev.rlhf.llama.generate.Generator generator = new dev.rlhf.llama.generate.Generator(
                    new dev.rlhf.llama.model.LlamaModel(dev.rlhf.llama.checkpoint.LlamaCheckpoint.load(dir, m,
                            dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead.ABSENT)), tokenizer::decode,
                    tokenizer.padId());
            int[] prompt = PromptFormat.chatPrompt(tokenizer, PROMPT);
            for (int batch : new int[] {1, 8, 32}) {
                List<GenerationRequest> reqs = new ArrayList<>();
                for (int i = 0; i < batch; i++) {
                    reqs.add(new GenerationRequest(prompt, new SamplingParams(1, MAX_NEW, 1.0, 1.0, 0, i, List.of()), 0,
                            null, null));
                }
                generator.generateAll(reqs); // warm-up
                long tokens = 0;
                long start = System.nanoTime();
                for (int r = 0; r < 3; r++) {
                    tokens += generator.generateAll(reqs).samples().stream().flatMap(List::stream)
                            .mapToLong(s -> s.tokens().length).sum();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                out.addProperty("engine_batch" + batch + "_tokens_per_s", tokens / seconds);
            }
        }
        try (PolicyMain service = PolicyMain.start(policyConfig(dir, "127.0.0.1:1"), msg -> { })) {
            for (int clients : new int[] {1, 8, 32}) {
                JsonObject r = loadPolicy(service.port(), clients, clients == 1 ? 12 : clients == 8 ? 6 : 4);
                out.add("service_clients" + clients, r);
            }
        }
        out.addProperty("service32_over_engine32", out.getAsJsonObject("service_clients32")
                .get("tokens_per_s").getAsDouble() / out.get("engine_batch32_tokens_per_s").getAsDouble());
        return out;
    }

    private static JsonObject loadPolicy(int port, int clients, int requestsPerClient) throws Exception {
        Vertx vertx = Vertx.vertx();
        GrpcClient client = GrpcClients.create(vertx);
        GrpcCaller caller = new GrpcCaller(vertx, client, new ServiceEndpoint("127.0.0.1", port));
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            call(caller, 0); // warm-up
            List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
            List<Future<Long>> tokens = new ArrayList<>();
            long start = System.nanoTime();
            for (int c = 0; c < clients; c++) {
                int id = c;
                tokens.add(pool.submit(() -> {
                    long t = 0;
                    for (int i = 0; i < requestsPerClient; i++) {
                        long t0 = System.nanoTime();
                        t += call(caller, id * 1000 + i);
                        latencies.add(System.nanoTime() - t0);
                    }
                    return t;
                }));
            }
            long total = 0;
            for (Future<Long> f : tokens) {
                total += f.get();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            List<Long> sorted = new ArrayList<>(latencies);
            Collections.sort(sorted);
            JsonObject r = new JsonObject();
            r.addProperty("requests", sorted.size());
            r.addProperty("tokens_per_s", total / seconds);
            r.addProperty("p50_ms", sorted.get(sorted.size() / 2) / 1e6);
            r.addProperty("p99_ms", sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(sorted.size() * 0.99) - 1))
                    / 1e6);
            return r;
        } finally {
            pool.shutdown();
            client.close();
            vertx.close();
        }
    }

    private static long call(GrpcCaller caller, long seed) throws Exception {
        GenerateResponse r = caller.call(PolicyServiceGrpcClient.Generate, GenerateRequest.newBuilder().setPrompt(PROMPT)
                        .setParams(dev.rlhf.proto.v1.SamplingParams.newBuilder().setN(1).setMaxNewTokens(MAX_NEW)
                                .setTemperature(1f).setSeed(seed)).build(), CallOptions.once(Duration.ofMinutes(5)))
                .toCompletionStage().toCompletableFuture().get();
        return r.getSamples(0).getTokensCount();
    }

    private static JsonObject rewardBench(int port) throws Exception {
        Vertx vertx = Vertx.vertx();
        GrpcClient client = GrpcClients.create(vertx);
        GrpcCaller caller = new GrpcCaller(vertx, client, new ServiceEndpoint("127.0.0.1", port));
        List<String> responses = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            responses.add(i + " plus 7 is " + (i + 7) + ". That is the answer to your question number " + i + ".");
        }
        ScoreRequest request = ScoreRequest.newBuilder().setPrompt(PROMPT).addAllResponses(responses).build();
        try {
            caller.call(RewardServiceGrpcClient.Score, request, CallOptions.once(Duration.ofMinutes(1)))
                    .toCompletionStage().toCompletableFuture().get();
            int calls = 40;
            long start = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                caller.call(RewardServiceGrpcClient.Score, request, CallOptions.once(Duration.ofMinutes(1)))
                        .toCompletionStage().toCompletableFuture().get();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            JsonObject r = new JsonObject();
            r.addProperty("responses_per_call", responses.size());
            r.addProperty("scored_responses_per_s", calls * responses.size() / seconds);
            return r;
        } finally {
            client.close();
            vertx.close();
        }
    }

    /** Prompts through the sampler; time shares from the services' own server-side timers. */
    private static JsonObject samplerBench(String kafka, PolicyMain policy, RewardMain help, RewardMain safe, int n,
                                           int prompts) throws Exception {
        double gen0 = serverSeconds(policy.metricsPort(), "Generate");
        double help0 = serverSeconds(help.metricsPort(), "Score");
        double safe0 = serverSeconds(safe.metricsPort(), "Score");
        String runId = "n" + n + "-" + System.nanoTime();
        Map<String, Object> values = new HashMap<>();
        values.put("kafka.bootstrap-servers", kafka);
        values.put("sampler.policy", "127.0.0.1:" + policy.port());
        values.put("sampler.reward-helpfulness", "127.0.0.1:" + help.port());
        values.put("sampler.reward-safety", "127.0.0.1:" + safe.port());
        values.put("sampler.n", Integer.toString(n));
        values.put("sampler.max-new-tokens", "32");
        values.put("sampler.group-id", "bench-" + runId);
        values.put("sampler.transactional-id", "bench-" + runId);
        values.put("sampler.metrics-port", "0");
        SamplerConfig config = SamplerConfig.schema().loader().env(Map.of()).overrides(values).load(SamplerConfig::from);
        try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                KafkaClients.producerConfig(kafka, "bench-" + runId))) {
            for (int i = 0; i < prompts; i++) {
                Prompt p = Prompt.newBuilder().setId(runId + "-" + i).setText("What is " + i + " plus 3?")
                        .setSafetyTagged(i % 4 == 0).build();
                producer.send(new ProducerRecord<>(Topics.PROMPTS, p.getId().getBytes(StandardCharsets.UTF_8),
                        p.toByteArray()));
            }
            producer.flush();
        }
        long start = System.nanoTime();
        Set<String> done = new HashSet<>();
        try (SamplerMain sampler = SamplerMain.start(config, m -> { });
             KafkaConsumer<byte[], byte[]> reader = KafkaClients.bytesConsumer(
                     KafkaClients.assignedConsumerConfig(kafka, "bench-reader"))) {
            reader.assign(List.of(new TopicPartition(Topics.BEST, 0)));
            reader.seekToBeginning(List.of(new TopicPartition(Topics.BEST, 0)));
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
            while (done.size() < prompts && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : reader.poll(Duration.ofMillis(100))) {
                    String id = BestSample.parseFrom(r.value()).getPrompt().getId();
                    if (id.startsWith(runId)) {
                        done.add(id);
                    }
                }
            }
        }
        double wall = (System.nanoTime() - start) / 1e9;
        double gen = serverSeconds(policy.metricsPort(), "Generate") - gen0;
        double scoring = Math.max(serverSeconds(help.metricsPort(), "Score") - help0,
                serverSeconds(safe.metricsPort(), "Score") - safe0); // the two services score in parallel
        JsonObject r = new JsonObject();
        r.addProperty("prompts", done.size());
        r.addProperty("prompts_per_s", done.size() / wall);
        r.addProperty("wall_s", wall);
        r.addProperty("policy_server_busy_s", gen);
        r.addProperty("reward_server_busy_s", scoring);
        r.addProperty("note", "busy times are sums over concurrent calls (up to 8 prompts in flight), so they are "
                + "shares of service time, not of wall time; wall_s includes sampler start-up and Kafka");
        return r;
    }

    private static final Pattern SUM = Pattern.compile(
            "rlhf_grpc_server_duration_seconds_sum\\{[^}]*method=\"[^\"]*/(\\w+)\"[^}]*} ([0-9.eE+-]+)");

    /** Total server-side seconds spent in calls of {@code method}, from the service's /metrics page. */
    private static double serverSeconds(int metricsPort, String method) throws Exception {
        String page = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        double total = 0;
        Matcher m = SUM.matcher(page);
        while (m.find()) {
            if (m.group(1).equals(method)) {
                total += Double.parseDouble(m.group(2));
            }
        }
        return total;
    }

}
