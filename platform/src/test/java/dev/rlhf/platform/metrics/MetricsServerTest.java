package dev.rlhf.platform.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.platform.grpc.ServerFixture;
import dev.rlhf.proto.v1.RewardServiceGrpc;
import dev.rlhf.proto.v1.ScoreRequest;
import io.grpc.StatusRuntimeException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
class MetricsServerTest {

    @Test
    void scrapeShowsGrpcCallsByMethodAndStatusAndTheSharedMeters(Vertx vertx) throws Exception {
        PrometheusMeterRegistry registry = RlhfMeters.newRegistry("reward");
        AtomicLong lag = new AtomicLong(42);
        RlhfMeters.kafkaConsumerLag(registry, "sampler", "rlhf.prompts", lag::get);
        RlhfMeters.modelVersion(registry, "reward-helpful", () -> 7);
        RlhfMeters.tokens(registry, "scored").increment(128);
        RlhfMeters.batchSize(registry, "score").record(16);
        MetricsServer metrics = new MetricsServer(vertx, registry, "127.0.0.1", 0);
        int metricsPort = metrics.start().await();

        try (ServerFixture server = new ServerFixture(vertx, registry, 1024 * 1024)) {
            var rewards = RewardServiceGrpc.newBlockingStub(server.channel);
            ScoreRequest ok = ScoreRequest.newBuilder().setPrompt("hi").addResponses("a").build();
            rewards.score(ok);
            rewards.score(ok);
            assertThrows(StatusRuntimeException.class,
                    () -> rewards.score(ScoreRequest.newBuilder().setPrompt("invalid").build()));

            HttpClient http = HttpClient.newHttpClient();
            HttpResponse<String> scrape = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            String body = scrape.body();

            assertEquals(200, scrape.statusCode());
            assertTrue(scrape.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
            assertTrue(body.contains("rlhf_grpc_server_requests_total{method=\"rlhf.v1.RewardService/Score\","
                    + "service=\"reward\",status=\"OK\"} 2.0"), body);
            assertTrue(body.contains("rlhf_grpc_server_requests_total{method=\"rlhf.v1.RewardService/Score\","
                    + "service=\"reward\",status=\"INVALID_ARGUMENT\"} 1.0"), body);
            assertTrue(body.contains("rlhf_grpc_server_duration_seconds_bucket{"), body);
            assertTrue(body.contains("rlhf_kafka_consumer_lag_records{group=\"sampler\",service=\"reward\","
                    + "topic=\"rlhf.prompts\"} 42.0"), body);
            assertTrue(body.contains("rlhf_model_version{model=\"reward-helpful\",service=\"reward\"} 7.0"), body);
            assertTrue(body.contains("rlhf_tokens_total{kind=\"scored\",service=\"reward\"} 128.0"), body);
            assertTrue(body.contains("rlhf_batch_size_items_count{service=\"reward\",stage=\"score\"} 1"), body);

            HttpResponse<String> elsewhere = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + metricsPort + "/")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(404, elsewhere.statusCode());
        } finally {
            metrics.stop().await();
        }
    }

    @Test
    void healthzAnswersOkForHttpProbesAndRefusesOtherMethods(Vertx vertx) throws Exception {
        MetricsServer metrics = new MetricsServer(vertx, RlhfMeters.newRegistry("sampler"), "127.0.0.1", 0);
        int port = metrics.start().await();
        try {
            HttpClient http = HttpClient.newHttpClient();
            URI healthz = URI.create("http://127.0.0.1:" + port + MetricsServer.HEALTH_PATH);
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(healthz).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode());
            assertEquals("ok\n", ok.body());

            HttpResponse<String> post = http.send(HttpRequest.newBuilder(healthz)
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, post.statusCode());
        } finally {
            metrics.stop().await();
        }
    }
}
