package dev.rlhf.k8s;

import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.RuntimeJsonMappingException;
import com.fasterxml.jackson.databind.deser.BeanDeserializerBuilder;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Parses Kubernetes YAML into the typed models (fabric8 for Kubernetes, Strimzi's api for Kafka, {@link ScaledObject}
 * for KEDA), failing on any field the model does not know. Both model families keep unknown fields in an
 * "additional properties" map through {@code @JsonAnySetter}, so a typo would pass silently; this parser removes
 * that any-setter from every bean deserializer, which makes Jackson's FAIL_ON_UNKNOWN_PROPERTIES apply.
 */
final class ManifestParser {

    /** Every kind the manifests may contain, by {@code apiVersion/kind}; anything else is an error too. */
    static final Map<String, Class<?>> KINDS = Map.ofEntries(
            Map.entry("v1/Namespace", Namespace.class),
            Map.entry("v1/ServiceAccount", ServiceAccount.class),
            Map.entry("v1/Service", Service.class),
            Map.entry("v1/ConfigMap", ConfigMap.class),
            Map.entry("v1/PersistentVolumeClaim", PersistentVolumeClaim.class),
            Map.entry("storage.k8s.io/v1/StorageClass", io.fabric8.kubernetes.api.model.storage.StorageClass.class),
            Map.entry("v1/Pod", Pod.class),
            Map.entry("apps/v1/Deployment", Deployment.class),
            Map.entry("apps/v1/StatefulSet", StatefulSet.class),
            Map.entry("batch/v1/Job", Job.class),
            Map.entry("policy/v1/PodDisruptionBudget", PodDisruptionBudget.class),
            Map.entry("networking.k8s.io/v1/NetworkPolicy", NetworkPolicy.class),
            Map.entry("autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class),
            // Strimzi 0.51 serves v1 next to v1beta2; we write v1, the only version Strimzi 1.x keeps.
            Map.entry("kafka.strimzi.io/v1/Kafka", Kafka.class),
            Map.entry("kafka.strimzi.io/v1/KafkaNodePool", KafkaNodePool.class),
            Map.entry("kafka.strimzi.io/v1/KafkaTopic", KafkaTopic.class),
            Map.entry("kafka.strimzi.io/v1/KafkaUser", KafkaUser.class),
            Map.entry("keda.sh/v1alpha1/ScaledObject", ScaledObject.class),
            Map.entry("monitoring.coreos.com/v1/ServiceMonitor", Monitoring.ServiceMonitor.class),
            Map.entry("monitoring.coreos.com/v1/PrometheusRule", Monitoring.PrometheusRule.class),
            Map.entry("monitoring.coreos.com/v1/PodMonitor", Monitoring.PodMonitor.class),
            Map.entry("keda.sh/v1alpha1/TriggerAuthentication", ScaledObject.TriggerAuthentication.class),
            // Only KEDA's non-secret Kafka user name; credentials come from Strimzi, never from the manifests.
            Map.entry("v1/Secret", Secret.class));

    private static final ObjectMapper MAPPER = strictMapper();

    private ManifestParser() {
    }

    /**
     * @param source names the input in error messages
     * @throws AssertionError naming the document, its kind and the path of the offending field
     */
    static List<Object> parse(String yaml, String source) {
        List<Object> objects = new ArrayList<>();
        try (MappingIterator<JsonNode> documents = MAPPER.readerFor(JsonNode.class).readValues(yaml)) {
            int index = 0;
            while (documents.hasNext()) {
                JsonNode document = documents.next();
                index++;
                if (document == null || document.isNull() || document.isEmpty()) {
                    continue;
                }
                objects.add(parseOne(document, source + " document " + index));
            }
        } catch (IOException | RuntimeJsonMappingException e) {
            throw new AssertionError(source + ": not valid YAML: " + e.getMessage(), e);
        }
        return objects;
    }

    private static Object parseOne(JsonNode document, String where) {
        String type = document.path("apiVersion").asText() + "/" + document.path("kind").asText();
        Class<?> model = KINDS.get(type);
        if (model == null) {
            throw new AssertionError(where + ": no typed model for " + type + " (known: " + KINDS.keySet() + ")");
        }
        String name = document.path("metadata").path("name").asText("<unnamed>");
        try {
            return MAPPER.treeToValue(document, model);
        } catch (IOException e) {
            throw new AssertionError(where + " (" + type + " " + name + "): " + e.getMessage(), e);
        }
    }

    private static ObjectMapper strictMapper() {
        SimpleModule strict = new SimpleModule("strict-manifests");
        strict.setDeserializerModifier(new BeanDeserializerModifier() {
            @Override
            public BeanDeserializerBuilder updateBuilder(DeserializationConfig config, BeanDescription description,
                                                         BeanDeserializerBuilder builder) {
                // Without the any-setter an unknown field has nowhere to go, and FAIL_ON_UNKNOWN_PROPERTIES fires.
                builder.setAnySetter(null);
                builder.setIgnoreUnknownProperties(false);
                return builder;
            }
        });
        return new ObjectMapper(new YAMLFactory())
                .registerModule(strict)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    }
}
