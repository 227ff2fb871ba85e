package dev.rlhf.k8s;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The typed parse rejects what the API server or an operator would silently drop. */
class ManifestParserTest {

    private static final String DEPLOYMENT = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: policy
            spec:
              selector:
                matchLabels: {app: policy}
              template:
                metadata:
                  labels: {app: policy}
                spec:
                  containers:
                    - name: policy
                      image: rlhf/policy:0.1.0
                      %s:
                        grpc:
                          port: 50051
            """;

    @Test
    void aCorrectlySpelledManifestParsesIntoItsModel() {
        List<Object> objects = ManifestParser.parse(DEPLOYMENT.formatted("readinessProbe"), "test");
        Deployment deployment = assertInstanceOf(Deployment.class, objects.get(0));
        assertEquals(50051, deployment.getSpec().getTemplate().getSpec().getContainers().get(0)
                .getReadinessProbe().getGrpc().getPort());
    }

    @Test
    void aMisspelledKubernetesFieldIsRejectedWithItsPath() {
        AssertionError error = assertThrows(AssertionError.class,
                () -> ManifestParser.parse(DEPLOYMENT.formatted("readinessProb"), "test"));
        assertTrue(error.getMessage().contains("readinessProb"), error.getMessage());
        assertTrue(error.getMessage().contains("Deployment policy"), error.getMessage());
    }

    @Test
    void aMisspelledStrimziFieldIsRejected() {
        String topic = """
                apiVersion: kafka.strimzi.io/v1
                kind: KafkaTopic
                metadata:
                  name: rlhf-prompts
                spec:
                  topicName: rlhf.prompts
                  %s: 12
                """;
        assertInstanceOf(KafkaTopic.class, ManifestParser.parse(topic.formatted("partitions"), "test").get(0));
        AssertionError error = assertThrows(AssertionError.class,
                () -> ManifestParser.parse(topic.formatted("partitons"), "test"));
        assertTrue(error.getMessage().contains("partitons"), error.getMessage());
    }

    @Test
    void aMisspelledKedaFieldIsRejected() {
        String scaledObject = """
                apiVersion: keda.sh/v1alpha1
                kind: ScaledObject
                metadata:
                  name: sampler
                spec:
                  scaleTargetRef: {kind: StatefulSet, name: sampler}
                  %s: 4
                """;
        assertInstanceOf(ScaledObject.class, ManifestParser.parse(scaledObject.formatted("maxReplicaCount"), "t").get(0));
        AssertionError error = assertThrows(AssertionError.class,
                () -> ManifestParser.parse(scaledObject.formatted("maxReplicas"), "test"));
        assertTrue(error.getMessage().contains("maxReplicas"), error.getMessage());
    }

    @Test
    void aKindWithoutATypedModelIsRejected() {
        AssertionError error = assertThrows(AssertionError.class, () -> ManifestParser.parse("""
                apiVersion: apps/v1beta1
                kind: Deployment
                metadata: {name: old}
                """, "test"));
        assertTrue(error.getMessage().contains("apps/v1beta1/Deployment"), error.getMessage());
    }

    @Test
    void aKeyGivenTwiceIsRejected() {
        AssertionError error = assertThrows(AssertionError.class, () -> ManifestParser.parse("""
                apiVersion: v1
                kind: ServiceAccount
                metadata: {name: a}
                metadata: {name: b}
                """, "test"));
        assertTrue(error.getMessage().contains("metadata"), error.getMessage());
    }
}
