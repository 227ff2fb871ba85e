package dev.rlhf.k8s;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.List;
import java.util.Map;

/**
 * The Prometheus Operator's {@code monitoring.coreos.com/v1} ServiceMonitor and PrometheusRule, the fields we use:
 * strict records, so a misspelled field fails the build as it would fail {@code kubectl apply}.
 */
final class Monitoring {
    private Monitoring() {
    }

    record ServiceMonitor(String apiVersion, String kind, ObjectMeta metadata, MonitorSpec spec) {
    }

    record MonitorSpec(LabelSelector selector, List<Endpoint> endpoints) {
    }

    record Endpoint(String port, String path, String interval) {
    }

    record PodMonitor(String apiVersion, String kind, ObjectMeta metadata, PodMonitorSpec spec) {
    }

    record PodMonitorSpec(LabelSelector selector, List<Endpoint> podMetricsEndpoints) {
    }

    record PrometheusRule(String apiVersion, String kind, ObjectMeta metadata, RuleSpec spec) {
    }

    record RuleSpec(List<RuleGroup> groups) {
    }

    record RuleGroup(String name, List<Rule> rules) {
    }

    record Rule(String alert, String record, String expr,
                @com.fasterxml.jackson.annotation.JsonProperty("for") String forDuration, Map<String, String> labels,
                Map<String, String> annotations) {
    }
}
