package dev.rlhf.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Service;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * components/monitoring (issue 17): every Service with a metrics port is scraped by a ServiceMonitor, and every
 * metric an alert or a dashboard panel reads is one the services' code registers (Micrometer's Prometheus names:
 * dots become underscores, then a unit and {@code _total}/{@code _bucket}/... suffix).
 */
class MonitoringTest {
    private static final Rendered RENDERED = Variants.get("base+monitoring");
    private static final Pattern METRIC = Pattern.compile("\\brlhf_[a-z_]+");
    private static final List<String> SUFFIXES = List.of("_total", "_seconds_bucket", "_seconds_count",
            "_seconds_sum", "_seconds_max", "_items_sum", "_items_count", "_items_max", "_records", "");

    @Test
    void everyMetricsPortIsScraped() {
        List<Monitoring.ServiceMonitor> monitors = RENDERED.all(Monitoring.ServiceMonitor.class);
        List<String> unscraped = new ArrayList<>();
        for (Service s : RENDERED.all(Service.class)) {
            if (s.getSpec().getPorts().stream().noneMatch(p -> "metrics".equals(p.getName()))) {
                continue;
            }
            Map<String, String> labels = s.getMetadata().getLabels();
            boolean scraped = monitors.stream().anyMatch(m -> labels.entrySet().containsAll(
                    m.spec().selector().getMatchLabels().entrySet())
                    && m.spec().endpoints().stream().anyMatch(e -> "metrics".equals(e.port())));
            if (!scraped) {
                unscraped.add(s.getMetadata().getName());
            }
        }
        assertEquals(List.of(), unscraped, "Services whose metrics port no ServiceMonitor scrapes");
        assertEquals(5, RENDERED.all(Service.class).stream().filter(s -> s.getSpec().getPorts().stream()
                .anyMatch(p -> "metrics".equals(p.getName()))).count(), "policy, two rewards, sampler, trainer");
    }

    /** Kafka's metrics: the reporter and exporter are on, scraped, and the namespace's default deny lets them be. */
    @Test
    void kafkaMetricsAreOnScrapedAndAdmitted() {
        io.strimzi.api.kafka.model.kafka.Kafka kafka = RENDERED.all(io.strimzi.api.kafka.model.kafka.Kafka.class)
                .get(0);
        assertTrue(kafka.getSpec().getKafka().getMetricsConfig() != null, "broker metrics on");
        assertTrue("rlhf.prompts".matches(kafka.getSpec().getKafkaExporter().getTopicRegex()), "exporter covers rlhf.*");
        Monitoring.PodMonitor monitor = RENDERED.all(Monitoring.PodMonitor.class).get(0);
        Map<String, String> pods = monitor.spec().selector().getMatchLabels();
        assertEquals("tcp-prometheus", monitor.spec().podMetricsEndpoints().get(0).port());
        io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy open = RENDERED
                .named(io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy.class,
                        "allow-prometheus-scrape-kafka").orElseThrow();
        assertEquals(pods, open.getSpec().getPodSelector().getMatchLabels(), "the policy opens the monitored pods");
        assertEquals(9404, open.getSpec().getIngress().get(0).getPorts().get(0).getPort().getIntVal());
        io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy services = RENDERED
                .named(io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy.class, "allow-prometheus-scrape")
                .orElseThrow();
        assertEquals(services.getSpec().getIngress().get(0).getFrom(), open.getSpec().getIngress().get(0).getFrom(),
                "the same Prometheus as the services' scrape policy");
    }

    @Test
    void alertsAndPanelsReadMetricsTheCodeRegisters() throws IOException {
        Set<String> registered = registeredNames();
        List<String> queries = new ArrayList<>();
        for (Monitoring.PrometheusRule rule : RENDERED.all(Monitoring.PrometheusRule.class)) {
            rule.spec().groups().forEach(g -> g.rules().forEach(r -> queries.add(r.alert() + ": " + r.expr())));
        }
        ConfigMap dashboard = RENDERED.named(ConfigMap.class, "rlhf-grafana-dashboard").orElseThrow();
        assertEquals("1", dashboard.getMetadata().getLabels().get("grafana_dashboard"), "the sidecar's label");
        JsonNode json = new ObjectMapper().readTree(dashboard.getData().get("rlhf-dashboard.json"));
        for (JsonNode panel : json.get("panels")) {
            for (JsonNode target : panel.get("targets")) {
                queries.add(panel.get("title").asText() + ": " + target.get("expr").asText());
            }
        }
        assertTrue(queries.size() >= 10, "alerts and panels found: " + queries);
        List<String> unknown = new ArrayList<>();
        for (String q : queries) {
            Matcher m = METRIC.matcher(q);
            while (m.find()) {
                String metric = m.group();
                boolean known = SUFFIXES.stream().filter(metric::endsWith)
                        .map(s -> metric.substring(0, metric.length() - s.length()).replace('_', '.'))
                        .anyMatch(registered::contains);
                if (!known) {
                    unknown.add(metric + " in " + q);
                }
            }
        }
        assertEquals(List.of(), unknown, "metrics no service registers (known: " + registered + ")");
    }

    /** Every "rlhf.*" string literal of the services' main code: the names meters are registered under. */
    private static Set<String> registeredNames() throws IOException {
        Set<String> names = new TreeSet<>();
        Pattern literal = Pattern.compile("\"(rlhf(?:\\.[a-z]+)+)\"");
        List<Path> sources;
        try (Stream<Path> walk = Files.walk(Variants.REPOSITORY)) {
            sources = walk.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/main/")
                    && !p.toString().contains("/target/")).collect(Collectors.toList());
        }
        for (Path p : sources) {
            Matcher m = literal.matcher(Files.readString(p));
            while (m.find()) {
                names.add(m.group(1));
            }
        }
        assertTrue(names.contains("rlhf.tokens") && names.contains("rlhf.model.version"), "sources read: " + names);
        return names;
    }
}
