package dev.rlhf.policy.grpc;

import dev.rlhf.vocabulary.HotSwap;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.checkpoint.ModelFactory;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.platform.kafka.KafkaBroker;
import dev.rlhf.platform.kafka.KafkaClients;
import dev.rlhf.platform.kafka.KafkaTestSupport;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.policy.PolicyMain;
import dev.rlhf.policy.config.PolicyConfig;
import dev.rlhf.proto.v1.GenerateRequest;
import dev.rlhf.proto.v1.GenerateResponse;
import dev.rlhf.proto.v1.ModelUpdate;
import dev.rlhf.proto.v1.PolicyServiceGrpc;
import dev.rlhf.proto.v1.SamplingParams;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** 32 concurrent clients keep generating while 5 new policy versions arrive over Kafka. */
class HotSwapUnderLoadTest {
    private static final int CLIENTS = 32;
    private static final int NEW_VERSIONS = 5;

    @TempDir
    Path tmp;

    private static void awaitRequests(AtomicInteger requests, int target) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        synchronized (requests) {
            while (requests.get() < target && System.currentTimeMillis() < deadline) {
                requests.wait(1000);
            }
        }
    }

    @Test
    void noRequestFailsEveryResponseHasOneVersionAndTheNewestEndsUpServing() throws Exception {
        List<Path> checkpoints = new ArrayList<>();
        for (int v = 1; v <= NEW_VERSIONS + 1; v++) {
            checkpoints.add(ModelFactory.tinyForTests(tmp.resolve("v" + v), v, false));
        }
        underLoad(checkpoints, service -> assertEquals(0, service.updater().sharedBases()));
    }

    /** LoRA: versions 2.. are adapters on version 1's weights; they swap in on the one base already loaded. */
    @Test
    void adapterVersionsSwapOnTheSharedBaseWithNoFailedRequest() throws Exception {
        Path base = ModelFactory.tinyForTests(tmp.resolve("base"), 1, false);
        List<Path> checkpoints = new ArrayList<>(List.of(base));
        for (int v = 2; v <= NEW_VERSIONS + 1; v++) {
            try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
                 dev.rlhf.llama.model.LlamaWeights w = dev.rlhf.llama.checkpoint.LlamaCheckpoint.load(base, m,
                         dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead.ABSENT)) {
                w.attachNewAdapter(dev.rlhf.llama.checkpoint.AdapterCheckpoint.newAdapter(base,
                        dev.rlhf.llama.lora.LoraConfig.parse("r=4")), v);
                for (var e : w.adapterTensors().entrySet()) {
                    if (e.getKey().endsWith("lora_B.weight")) { // a trained-looking adapter: B != 0
                        w.put(e.getKey(), m.randomNormal(0, 0.05f, e.getValue().getShape(),
                                ai.djl.ndarray.types.DataType.FLOAT32));
                    }
                }
                Path dir = tmp.resolve("adapter-v" + v);
                dev.rlhf.llama.checkpoint.LlamaCheckpoint.save(w, dir,
                        dev.rlhf.llama.checkpoint.LlamaCheckpoint.SaveOptions.defaults(v).withExtraFiles(d ->
                                dev.rlhf.llama.checkpoint.LlamaCheckpoint.copyTokenizerFiles(base, d)));
                checkpoints.add(dir);
            }
        }
        underLoad(checkpoints, service -> assertEquals(1, service.updater().sharedBases(),
                "the adapter versions stand on one loaded base"));
    }

    private void underLoad(List<Path> checkpoints, java.util.function.Consumer<PolicyMain> check) throws Exception {
        try (KafkaBroker broker = KafkaTestSupport.startBrokerWithTopics(1)) {
            PolicyConfig config = new PolicyConfig("127.0.0.1", 0, checkpoints.get(0), 1, 1024, 32, 64 << 20,
                    "cpu", 0, true, broker.bootstrapServers(), Duration.ofSeconds(10));
            try (PolicyMain service = PolicyMain.start(config, msg -> { })) {
                ConcurrentHashMap<Long, CountDownLatch> swapped = new ConcurrentHashMap<>();
                for (long v = 2; v <= NEW_VERSIONS + 1; v++) {
                    swapped.put(v, new CountDownLatch(1));
                }
                service.updater().onSwap(v -> swapped.get(v).countDown());
                ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", service.port()).usePlaintext()
                        .build();
                long newest = NEW_VERSIONS + 1;
                AtomicInteger failures = new AtomicInteger();
                AtomicInteger requests = new AtomicInteger();
                ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
                List<Future<List<Long>>> seen = new ArrayList<>();
                for (int c = 0; c < CLIENTS; c++) {
                    int client = c;
                    seen.add(clients.submit(() -> {
                        List<Long> versions = new ArrayList<>();
                        var stub = PolicyServiceGrpc.newBlockingStub(channel);
                        // Each client keeps going until it has been served by the newest version twice.
                        int newestCount = 0;
                        for (int i = 0; i < 2000 && newestCount < 2; i++) {
                            try {
                                GenerateResponse r = stub.withDeadlineAfter(60, TimeUnit.SECONDS).generate(
                                        GenerateRequest.newBuilder().setPrompt("hello " + client)
                                                .setParams(SamplingParams.newBuilder().setN(1).setMaxNewTokens(6)
                                                        .setTemperature(1f).setSeed(i)).build());
                                versions.add(r.getPolicyVersion());
                                synchronized (requests) {
                                    requests.incrementAndGet();
                                    requests.notifyAll();
                                }
                                if (r.getPolicyVersion() == newest) {
                                    newestCount++;
                                }
                            } catch (RuntimeException e) {
                                failures.incrementAndGet();
                            }
                        }
                        return versions;
                    }));
                }
                try (KafkaProducer<byte[], byte[]> producer = KafkaClients.bytesProducer(
                        KafkaClients.producerConfig(broker.bootstrapServers(), "test-updates"))) {
                    for (long v = 2; v <= newest; v++) {
                        awaitRequests(requests, requests.get() + CLIENTS); // swaps happen under traffic
                        Path dir = checkpoints.get((int) v - 1);
                        ModelUpdate u = ModelUpdate.newBuilder().setModel("policy").setVersion(v)
                                .setUri(dir.toString()).setSha256(Manifest.sha256(dir.resolve("manifest.json"))).build();
                        producer.send(new ProducerRecord<>(Topics.POLICY_UPDATES,
                                "policy".getBytes(StandardCharsets.UTF_8), u.toByteArray())).get();
                        assertTrue(swapped.get(v).await(60, TimeUnit.SECONDS), "version " + v + " swapped in");
                    }
                }
                List<List<Long>> all = new ArrayList<>();
                for (Future<List<Long>> f : seen) {
                    all.add(f.get(120, TimeUnit.SECONDS));
                }
                clients.shutdown();
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);

                assertEquals(0, failures.get(), "failed requests");
                long distinct = all.stream().flatMap(List::stream).distinct().count();
                assertTrue(distinct >= 3, "responses came from several versions: " + distinct);
                assertEquals(newest, service.servingVersion());
                for (List<Long> versions : all) {
                    for (int i = 1; i < versions.size(); i++) {
                        assertTrue(versions.get(i) >= versions.get(i - 1), "a client went back in versions: " + versions);
                    }
                    assertTrue(versions.stream().allMatch(v -> v >= 1 && v <= newest));
                }
                check.accept(service);
                // The pod announced what it serves on rlhf.serving (so the trainer's retention keeps it).
                Path newestDir = checkpoints.get((int) newest - 1).toAbsolutePath().normalize();
                try (dev.rlhf.platform.kafka.ServingTracker tracker = new dev.rlhf.platform.kafka.ServingTracker(
                        broker.bootstrapServers(), "test-serving", m -> { }).start()) {
                    assertTrue(tracker.awaitCaughtUp(Duration.ofSeconds(60)));
                    long deadline = System.currentTimeMillis() + 60_000;
                    while (tracker.instances().values().stream().noneMatch(x -> x.version() == newest)) {
                        assertTrue(System.currentTimeMillis() < deadline, "no announcement: " + tracker.instances());
                        Thread.sleep(20); // polling a condition, not synchronising on time
                    }
                    assertEquals(java.util.Set.of(newestDir), tracker.directories(System.currentTimeMillis(),
                            Duration.ofMinutes(3)).orElseThrow(), "the newest version, from its directory");
                }
                System.out.printf("hot-swap under load: %d requests from %d clients, versions 1..%d, 0 failures%n",
                        requests.get(), CLIENTS, newest);
            }
        }
    }
}
