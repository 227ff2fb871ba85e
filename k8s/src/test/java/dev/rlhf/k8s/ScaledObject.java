package dev.rlhf.k8s;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.util.List;
import java.util.Map;

/**
 * KEDA's {@code keda.sh/v1alpha1 ScaledObject}, the fields we use: KEDA publishes no Java model, and a strict record
 * rejects a misspelled field just as the typed Kubernetes models do.
 */
record ScaledObject(String apiVersion, String kind, ObjectMeta metadata, Spec spec) {

    record Spec(ScaleTargetRef scaleTargetRef, Integer pollingInterval, Integer cooldownPeriod,
                Integer minReplicaCount, Integer maxReplicaCount, List<Trigger> triggers) {
    }

    record ScaleTargetRef(String apiVersion, String kind, String name) {
    }

    /** {@code metadata} is free-form in KEDA's CRD, so its keys are checked per trigger type in the tests. */
    record Trigger(String type, String name, AuthenticationRef authenticationRef, Map<String, String> metadata) {
    }

    record AuthenticationRef(String name, String kind) {
    }

    /** KEDA's {@code TriggerAuthentication}: trigger parameters read from Secrets. */
    record TriggerAuthentication(String apiVersion, String kind, ObjectMeta metadata, AuthSpec spec) {
    }

    record AuthSpec(List<SecretTargetRef> secretTargetRef) {
    }

    record SecretTargetRef(String parameter, String name, String key) {
    }
}
