package dev.rlhf.k8s;

import static dev.rlhf.k8s.Sources.CONFIG;
import static dev.rlhf.k8s.Sources.assertFlags;
import static dev.rlhf.k8s.Sources.assertNone;
import static dev.rlhf.k8s.Workload.Containers.WITH_INIT;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.user.KafkaUser;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The objects of each variant fit together; each check catches a planted mistake. */
class WiringTest {

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void servicesBudgetsAndAutoscalersPointAtRealWorkloadsAndPorts(String variant) {
        Rendered r = Variants.get(variant);
        List<String> problems = new ArrayList<>();
        problems.addAll(Wiring.servicesSelectOneWorkload(r));
        problems.addAll(Wiring.disruptionBudgets(r));
        problems.addAll(Wiring.autoscalers(r, CONFIG));
        assertNone(problems);
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void everyServiceGetsTheKeysItNeedsAndOnlyKeysItReads(String variant) {
        Rendered r = Variants.get(variant);
        List<String> problems = new ArrayList<>();
        problems.addAll(Wiring.configurationKeys(r, CONFIG));
        problems.addAll(Wiring.configurationValues(r, CONFIG));
        problems.addAll(Wiring.kafkaLogins(r, CONFIG));
        assertNone(problems);
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void checkpointsSamplerIdsAndTheTrainerFollowTheirContracts(String variant) {
        Rendered r = Variants.get(variant);
        List<String> problems = new ArrayList<>();
        // One-node clusters (local) may use a ReadWriteOnce volume: every pod runs on that node.
        problems.addAll(Wiring.checkpointStore(r, CONFIG, !variant.equals("local")));
        problems.addAll(Wiring.samplerTransactionalIds(r));
        problems.addAll(Wiring.singleTrainer(r));
        assertNone(problems);
    }

    @Test
    void aServiceSelectingTwoWorkloadsOrTargetingAMissingPortIsFlagged() {
        Rendered r = Variants.get("base").copy();
        Service rewards = r.required(Service.class, "reward-safety");
        rewards.getSpec().setSelector(Map.of("app.kubernetes.io/name", "reward"));
        Service policy = r.required(Service.class, "policy");
        policy.getSpec().getPorts().get(0).setTargetPort(new IntOrString("grcp"));
        List<String> problems = Wiring.servicesSelectOneWorkload(r);
        assertFlags(problems, "Service reward-safety: selects 2 workloads");
        assertFlags(problems, "Service policy port grpc: targets port name grcp");
    }

    @Test
    void aServingDeploymentWithoutBudgetIsFlagged() {
        Rendered r = Variants.get("base").copy();
        r.objects().remove(r.required(PodDisruptionBudget.class, "policy"));
        assertFlags(Wiring.disruptionBudgets(r), "Deployment policy: serves gRPC but has 0 PodDisruptionBudgets");
    }

    @Test
    void anUnknownKeyAMissingRequiredKeyAndALoopbackDefaultAreFlagged() {
        Rendered r = Variants.get("base").copy();
        ConfigMap policy = r.all(ConfigMap.class).stream()
                .filter(m -> m.getMetadata().getName().startsWith("policy-config")).findFirst().orElseThrow();
        policy.getData().remove("RLHF_POLICY_CHECKPOINT");
        policy.getData().put("RLHF_POLICY_MAX_BATCH_ROW", "8");
        ConfigMap kafka = r.all(ConfigMap.class).stream()
                .filter(m -> m.getMetadata().getName().startsWith("kafka-config")).findFirst().orElseThrow();
        kafka.getData().remove("RLHF_KAFKA_BOOTSTRAP_SERVERS");
        kafka.getData().put("RLHF_KAFKA_TOPIC_PARTITION", "3");
        List<String> problems = Wiring.configurationKeys(r, CONFIG);
        assertFlags(problems, "RLHF_POLICY_MAX_BATCH_ROW is not a key policy reads");
        assertFlags(problems, "RLHF_KAFKA_TOPIC_PARTITION is not a key trainer reads");
        assertFlags(problems, "policy.checkpoint (RLHF_POLICY_CHECKPOINT) not set, and it is required");
        assertFlags(problems, "kafka.bootstrap-servers (RLHF_KAFKA_BOOTSTRAP_SERVERS) not set, and it defaults to a"
                + " loopback address");
    }

    @Test
    void aMissingConfigMapIsFlagged() {
        Rendered r = Variants.get("base").copy();
        r.objects().removeIf(o -> o instanceof ConfigMap m && m.getMetadata().getName().startsWith("sampler-config"));
        assertFlags(Wiring.configurationKeys(r, CONFIG), "is not part of the deployment");
    }

    @Test
    void swappedRewardAddressesAWrongPortAndAnUnauthenticatedListenerAreFlagged() {
        Rendered r = Variants.get("base").copy();
        ConfigMap sampler = r.all(ConfigMap.class).stream()
                .filter(m -> m.getMetadata().getName().startsWith("sampler-config")).findFirst().orElseThrow();
        sampler.getData().put("RLHF_SAMPLER_REWARD_HELPFULNESS", "reward-safety:50061");
        sampler.getData().put("RLHF_SAMPLER_POLICY", "policy:9464");
        ConfigMap reward = r.all(ConfigMap.class).stream()
                .filter(m -> m.getMetadata().getName().startsWith("reward-config-helpfulness")).findFirst()
                .orElseThrow();
        reward.getData().put("RLHF_REWARD_PORT", "50062");
        // The listener as it was before the services logged in: anonymous clients, whom no ACL restricts.
        r.all(Kafka.class).get(0).getSpec().getKafka().getListeners().get(0).setAuth(null);
        List<String> problems = Wiring.configurationValues(r, CONFIG);
        assertFlags(problems, "leads to the safety reward model, not helpfulness");
        assertFlags(problems, "address policy:9464 does not reach the grpc port");
        assertFlags(problems, "reward.port = 50062 but the container port named grpc is 50061");
        assertFlags(problems, "uses listener scram, which connects without authentication");
    }

    @Test
    void aServiceThatDoesNotLogInOrLogsInAsAnotherUserIsFlagged() {
        Rendered r = Variants.get("base").copy();
        r.all(ConfigMap.class).stream().filter(m -> m.getMetadata().getName().startsWith("kafka-config"))
                .forEach(m -> m.getData().put("RLHF_KAFKA_SECURITY_PROTOCOL", "SSL"));
        assertFlags(Wiring.configurationValues(r, CONFIG),
                "kafka.security-protocol SSL does not log in to listener scram, expected SASL_SSL");

        // The policy with the trainer's credentials, the reward without its KafkaUser, the sampler without the CA.
        Container policy = r.workloads().stream().filter(w -> w.name().equals("policy")).findFirst().orElseThrow()
                .containers(WITH_INIT).get(0);
        policy.getEnv().stream().filter(e -> e.getName().equals("RLHF_KAFKA_SASL_JAAS_CONFIG"))
                .forEach(e -> e.getValueFrom().getSecretKeyRef().setName("trainer"));
        r.objects().remove(r.required(KafkaUser.class, "reward"));
        Workload sampler = r.workloads().stream().filter(w -> w.name().equals("sampler")).findFirst().orElseThrow();
        sampler.containers(WITH_INIT).get(0).getVolumeMounts().removeIf(m -> m.getName().equals("kafka-ca"));
        List<String> problems = Wiring.kafkaLogins(r, CONFIG);
        assertFlags(problems, "container policy: RLHF_KAFKA_SASL_JAAS_CONFIG is not the key sasl.jaas.config of the"
                + " Secret policy");
        assertFlags(problems, "no KafkaUser reward to log in as");
        assertFlags(problems, "container sampler: kafka.ssl-truststore-location /etc/rlhf/kafka-ca/ca.crt is not on a"
                + " read-only mount of the Secret rlhf-cluster-ca-cert");
    }

    @Test
    void topicSettingsThatDisagreeWithTheKafkaTopicsAreFlagged() {
        Rendered r = Variants.get("local").copy();
        r.all(ConfigMap.class).stream().filter(m -> m.getMetadata().getName().startsWith("kafka-config"))
                .forEach(m -> m.getData().put("RLHF_KAFKA_REPLICATION_FACTOR", "3"));
        List<String> problems = Wiring.configurationValues(r, CONFIG);
        assertFlags(problems, "kafka.replication-factor 3 exceeds the 1 brokers");
        assertFlags(problems, "kafka.replication-factor vs KafkaTopic rlhf.prompts: 3, expected 1");
    }

    @Test
    void checkpointsOffTheSharedVolumeOrOnANodeLocalOneAreFlagged() {
        Rendered r = Variants.get("base").copy();
        r.all(ConfigMap.class).stream().filter(m -> m.getMetadata().getName().startsWith("trainer-config"))
                .forEach(m -> m.getData().put("RLHF_TRAINER_CHECKPOINT_DIR", "/tmp/checkpoints"));
        assertFlags(Wiring.checkpointStore(r, CONFIG, true), "trainer.checkpoint-dir = /tmp/checkpoints is not on a"
                + " PersistentVolumeClaim");

        Rendered other = Variants.get("base").copy();
        other.required(PersistentVolumeClaim.class, "model-store").getSpec().setAccessModes(List.of("ReadWriteOnce"));
        assertFlags(Wiring.checkpointStore(other, CONFIG, true), "pods on different nodes need ReadWriteMany");

        Rendered readOnly = Variants.get("base").copy();
        readOnly.workload("trainer").pod().getContainers().get(0).getVolumeMounts().stream()
                .filter(m -> m.getName().equals("model-store")).forEach(m -> m.setReadOnly(true));
        assertFlags(Wiring.checkpointStore(readOnly, CONFIG, true), "trainer.checkpoint-dir is on a read-only mount");
    }

    @Test
    void aSharedTransactionalIdOrASecondTrainerIsFlagged() {
        Rendered r = Variants.get("base").copy();
        Container sampler = r.workload("sampler").pod().getContainers().get(0);
        sampler.getEnv().replaceAll(e -> e.getName().equals("RLHF_SAMPLER_TRANSACTIONAL_ID")
                ? new EnvVar(e.getName(), "sampler", null) : e);
        assertFlags(Wiring.samplerTransactionalIds(r), "RLHF_SAMPLER_TRANSACTIONAL_ID is not the pod name");
        r.all(StatefulSet.class).stream()
                .filter(s -> s.getMetadata().getName().equals("trainer")).forEach(s -> s.getSpec().setReplicas(2));
        assertFlags(Wiring.singleTrainer(r), "must be a StatefulSet of one replica");
    }

    @Test
    void anAutoscalerBeyondThePartitionsOrOnAMissingTargetIsFlagged() {
        Rendered r = Variants.get("gpu").copy();
        HorizontalPodAutoscaler hpa = r.all(HorizontalPodAutoscaler.class).get(0);
        hpa.getSpec().setMaxReplicas(40);
        hpa.getSpec().getScaleTargetRef().setName("samplers");
        List<String> problems = Wiring.autoscalers(r, CONFIG);
        assertFlags(problems, "maxReplicas 40 exceeds the 12 partitions");
        assertFlags(problems, "targets StatefulSet samplers, which does not exist");

        Rendered keda = Variants.get("base+keda").copy();
        ScaledObject so = keda.all(ScaledObject.class).get(0);
        so.spec().triggers().get(0).metadata().put("consumerGroup", "sampler");
        assertFlags(Wiring.autoscalers(keda, CONFIG), "consumerGroup: sampler, expected rlhf-sampler");

        // With an autoscaler, `replicas` in the manifest would reset its count on every apply.
        Rendered scaled = Variants.get("gpu").copy();
        scaled.all(io.fabric8.kubernetes.api.model.apps.StatefulSet.class).stream()
                .filter(s -> s.getMetadata().getName().equals("sampler")).forEach(s -> s.getSpec().setReplicas(2));
        assertFlags(Wiring.autoscalers(scaled, CONFIG), "StatefulSet sampler: sets replicas 2 although an autoscaler "
                + "owns the count");
    }
}
