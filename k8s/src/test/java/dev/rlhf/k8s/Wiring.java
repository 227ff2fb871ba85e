package dev.rlhf.k8s;

import static dev.rlhf.k8s.Workload.Containers.APP_ONLY;
import static dev.rlhf.k8s.Workload.Containers.WITH_INIT;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarSource;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimVolumeSource;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.kafka.listener.GenericKafkaListener;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.nodepool.ProcessRoles;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** Whether the objects fit together: selectors, ports, configuration, shared storage, Kafka addresses. */
final class Wiring {
    private static final Set<String> LOOPBACK = Set.of("127.0.0.1", "localhost", "::1");

    private Wiring() {
    }

    /** Each Service selects exactly one long-running workload, and every port it targets is a port of that workload. */
    static List<String> servicesSelectOneWorkload(Rendered r) {
        List<String> problems = new ArrayList<>();
        for (Service service : r.all(Service.class)) {
            String where = "Service " + service.getMetadata().getName();
            Map<String, String> selector = service.getSpec().getSelector();
            if (selector == null || selector.isEmpty()) {
                problems.add(where + ": no selector");
                continue;
            }
            List<Workload> selected = r.workloads().stream().filter(Workload::longRunning)
                    .filter(w -> w.labels().entrySet().containsAll(selector.entrySet())).toList();
            if (selected.size() != 1) {
                problems.add(where + ": selects " + selected.size() + " workloads " + selected.stream()
                        .map(Workload::id).toList() + ", expected exactly one");
                continue;
            }
            Workload target = selected.get(0);
            for (ServicePort port : service.getSpec().getPorts()) {
                IntOrString targetPort = port.getTargetPort() != null ? port.getTargetPort()
                        : new IntOrString(port.getPort());
                if (containerPort(target, targetPort).isEmpty()) {
                    problems.add(where + " port " + port.getName() + ": targets " + describe(targetPort)
                            + ", which no container of " + target.id() + " exposes");
                }
            }
        }
        for (StatefulSet set : r.all(StatefulSet.class)) {
            String governing = set.getSpec().getServiceName();
            if (governing == null || r.named(Service.class, governing).isEmpty()) {
                problems.add("StatefulSet " + set.getMetadata().getName() + ": governing Service " + governing
                        + " missing");
            }
        }
        return problems;
    }

    /** Every Deployment serving gRPC has one PodDisruptionBudget, and every budget selects one workload. */
    static List<String> disruptionBudgets(Rendered r) {
        List<String> problems = new ArrayList<>();
        Map<String, Integer> budgetsPerWorkload = new LinkedHashMap<>();
        for (PodDisruptionBudget pdb : r.all(PodDisruptionBudget.class)) {
            List<Workload> selected = r.workloads().stream()
                    .filter(w -> matches(pdb.getSpec().getSelector(), w.labels())).toList();
            if (selected.size() != 1) {
                problems.add("PodDisruptionBudget " + pdb.getMetadata().getName() + ": selects " + selected.size()
                        + " workloads, expected exactly one");
            }
            selected.forEach(w -> budgetsPerWorkload.merge(w.id(), 1, Integer::sum));
        }
        for (Workload w : r.workloads()) {
            boolean serving = w.kind().equals("Deployment") && w.containers(APP_ONLY).stream()
                    .anyMatch(c -> Workload.port(c, "grpc").isPresent());
            if (serving && budgetsPerWorkload.getOrDefault(w.id(), 0) != 1) {
                problems.add(w.id() + ": serves gRPC but has " + budgetsPerWorkload.getOrDefault(w.id(), 0)
                        + " PodDisruptionBudgets");
            }
        }
        return problems;
    }

    /**
     * The configuration of each service container: every RLHF_* variable is a key the service reads (a typo
     * would be ignored by the service for shared keys, or stop it), every required key is set, and so is every
     * key whose default is a loopback address, which cannot work across pods.
     */
    static List<String> configurationKeys(Rendered r, ConfigDoc docs) {
        List<String> problems = new ArrayList<>();
        for (ServiceContainer s : ServiceContainer.of(r, WITH_INIT, docs.services()::contains)) {
            Map<String, String> env = ServiceConfig.environment(r, s.workload(), s.container(), problems);
            for (String var : env.keySet()) {
                if (var.startsWith("RLHF_") && docs.key(s.program(), var).isEmpty()) {
                    problems.add(s.where() + ": " + var + " is not a key " + s.program() + " reads");
                }
            }
            for (ConfigDoc.Key key : docs.keys(s.program()).values()) {
                boolean loopbackDefault = key.defaultValue().map(Wiring::mentionsLoopback).orElse(false);
                if ((key.required() || loopbackDefault) && !env.containsKey(key.envVar())) {
                    problems.add(s.where() + ": " + key.name() + " (" + key.envVar() + ") not set, and it "
                            + (key.required() ? "is required" : "defaults to a loopback address"));
                }
            }
        }
        return problems;
    }

    /**
     * Values that must agree with other objects: listening ports with the container ports, bind addresses
     * reachable from outside the pod, the sampler's service addresses with the Services of the right reward kind,
     * Kafka bootstrap with Strimzi's bootstrap Service on a listener with authentication, and a security protocol
     * that logs in to it; topic partitions and replication with the KafkaTopics.
     */
    static List<String> configurationValues(Rendered r, ConfigDoc docs) {
        List<String> problems = new ArrayList<>();
        for (ServiceContainer s : ServiceContainer.of(r, WITH_INIT, docs.services()::contains)) {
            String where = s.where();
            Container c = s.container();
            Map<String, String> config = ServiceConfig.effective(r, docs, s.workload(), c);
            String p = s.program();
            expectPort(problems, where, c, "grpc", config.get(p + ".port"), p + ".port");
            expectPort(problems, where, c, "metrics", config.get(p + ".metrics-port"), p + ".metrics-port");
            for (String hostKey : List.of(p + ".host", p + ".metrics-host")) {
                String host = config.get(hostKey);
                if (host != null && !Set.of("0.0.0.0", "::").contains(host)) {
                    problems.add(where + ": " + hostKey + " = " + host
                            + " is not reachable by Services and probes; bind 0.0.0.0");
                }
            }
            if (p.equals("sampler")) {
                expectService(problems, r, docs, where, config.get("sampler.policy"), "policy", null);
                expectService(problems, r, docs, where, config.get("sampler.reward-helpfulness"), "reward",
                        "helpfulness");
                expectService(problems, r, docs, where, config.get("sampler.reward-safety"), "reward", "safety");
            }
            kafka(problems, r, where, config);
        }
        return problems;
    }

    /** The KafkaUser each service logs in as (kafka/users.yaml): its own, whose ACLs fit what it does. */
    static final Map<String, String> KAFKA_USERS = Map.of("policy", "policy", "reward", "reward",
            "sampler", "sampler", "trainer", "trainer");

    /**
     * Each service logs in to Kafka as its own KafkaUser: the JAAS line comes from the Secret Strimzi names after
     * that user (which must exist), and the truststore is Strimzi's cluster CA certificate, mounted read-only.
     */
    static List<String> kafkaLogins(Rendered r, ConfigDoc docs) {
        List<String> problems = new ArrayList<>();
        Set<String> users = new TreeSet<>();
        r.all(KafkaUser.class).forEach(u -> users.add(u.getMetadata().getName()));
        String caSecret = r.all(Kafka.class).isEmpty() ? "?"
                : r.all(Kafka.class).get(0).getMetadata().getName() + "-cluster-ca-cert";
        for (ServiceContainer s : ServiceContainer.of(r, WITH_INIT, KAFKA_USERS::containsKey)) {
            Container c = s.container();
            String user = KAFKA_USERS.get(s.program());
            if (!users.contains(user)) {
                problems.add(s.where() + ": no KafkaUser " + user + " to log in as");
            }
            Optional<SecretKeySelector> jaas = Workload.env(c, "RLHF_KAFKA_SASL_JAAS_CONFIG")
                    .map(EnvVar::getValueFrom).map(EnvVarSource::getSecretKeyRef);
            if (jaas.isEmpty() || !user.equals(jaas.get().getName())
                    || !"sasl.jaas.config".equals(jaas.get().getKey())) {
                problems.add(s.where() + ": RLHF_KAFKA_SASL_JAAS_CONFIG is not the key sasl.jaas.config of the"
                        + " Secret " + user + " (KafkaUser " + user + ")");
            }
            String truststore = ServiceConfig.effective(r, docs, s.workload(), c).get("kafka.ssl-truststore-location");
            Optional<Workload.MountedVolume> ca = truststore == null ? Optional.empty()
                    : s.workload().volumeAt(c, truststore);
            boolean mounted = ca.isPresent() && Boolean.TRUE.equals(ca.get().mount().getReadOnly())
                    && ca.get().volume().getSecret() != null
                    && caSecret.equals(ca.get().volume().getSecret().getSecretName());
            if (!mounted) {
                problems.add(s.where() + ": kafka.ssl-truststore-location " + truststore + " is not on a read-only"
                        + " mount of the Secret " + caSecret);
            }
        }
        return problems;
    }

    /**
     * The checkpoint contract: the trainer writes versions under trainer.checkpoint-dir and announces their absolute
     * path; the policy loads that path. So every model path of every service lies on one PersistentVolumeClaim,
     * mounted at the same path everywhere, writable by the trainer, shared across nodes where asked.
     */
    static List<String> checkpointStore(Rendered r, ConfigDoc docs, boolean sharedAcrossNodes) {
        List<String> problems = new ArrayList<>();
        Map<String, String> pathKeys = Map.of("policy", "policy.checkpoint", "reward", "reward.checkpoint",
                "trainer", "trainer.checkpoint-dir");
        Set<String> claims = new TreeSet<>();
        Set<String> mountPaths = new TreeSet<>();
        String trainerInitial = null;
        String policyCheckpoint = null;
        for (ServiceContainer s : ServiceContainer.of(r, APP_ONLY, pathKeys::containsKey)) {
            String program = s.program();
            Map<String, String> config = ServiceConfig.effective(r, docs, s.workload(), s.container());
            List<String> keys = new ArrayList<>(List.of(pathKeys.get(program)));
            if (program.equals("trainer")) {
                keys.add("trainer.initial-policy");
                trainerInitial = config.get("trainer.initial-policy");
            }
            if (program.equals("policy")) {
                policyCheckpoint = config.get("policy.checkpoint");
            }
            for (String key : keys) {
                String path = config.get(key);
                Optional<Workload.MountedVolume> on = path == null ? Optional.empty()
                        : s.workload().volumeAt(s.container(), path);
                PersistentVolumeClaimVolumeSource claim = on.map(m -> m.volume().getPersistentVolumeClaim())
                        .orElse(null);
                if (claim == null) {
                    problems.add(s.where() + ": " + key + " = " + path + " is not on a PersistentVolumeClaim");
                    continue;
                }
                claims.add(claim.getClaimName());
                mountPaths.add(on.get().mount().getMountPath());
                boolean readOnly = Boolean.TRUE.equals(on.get().mount().getReadOnly())
                        || Boolean.TRUE.equals(claim.getReadOnly());
                if (key.equals("trainer.checkpoint-dir") && readOnly) {
                    problems.add(s.where() + ": " + key + " is on a read-only mount");
                }
            }
        }
        if (claims.size() != 1 || mountPaths.size() != 1) {
            problems.add("model paths lie on claims " + claims + " mounted at " + mountPaths
                    + "; the announced checkpoint paths need one claim at one mount path");
        }
        if (!Objects.equals(trainerInitial, policyCheckpoint)) {
            problems.add("trainer.initial-policy " + trainerInitial + " is not the policy's start-up model "
                    + policyCheckpoint + ": version 0 must be the same model on both sides");
        }
        for (String claim : claims) {
            Optional<PersistentVolumeClaim> pvc = r.named(PersistentVolumeClaim.class, claim);
            if (pvc.isEmpty()) {
                problems.add("PersistentVolumeClaim " + claim + " is not part of the deployment");
            } else if (sharedAcrossNodes && !pvc.get().getSpec().getAccessModes().contains("ReadWriteMany")) {
                problems.add("PersistentVolumeClaim " + claim + " is " + pvc.get().getSpec().getAccessModes()
                        + ": pods on different nodes need ReadWriteMany");
            }
        }
        return problems;
    }

    /**
     * Sampler replicas need a unique, stable transactional.id: a StatefulSet whose pod name is the id, so a
     * restarted replica fences its predecessor's open transaction at once.
     */
    static List<String> samplerTransactionalIds(Rendered r) {
        List<String> problems = new ArrayList<>();
        for (ServiceContainer s : ServiceContainer.of(r, APP_ONLY, "sampler"::equals)) {
            Workload w = s.workload();
            if (!w.kind().equals("StatefulSet")) {
                problems.add(w.id() + ": the sampler needs stable pod names, run it as a StatefulSet");
            }
            Optional<EnvVar> id = Workload.env(s.container(), "RLHF_SAMPLER_TRANSACTIONAL_ID");
            boolean podName = id.isPresent() && id.get().getValueFrom() != null
                    && id.get().getValueFrom().getFieldRef() != null
                    && "metadata.name".equals(id.get().getValueFrom().getFieldRef().getFieldPath());
            if (!podName) {
                problems.add(w.id() + ": RLHF_SAMPLER_TRANSACTIONAL_ID is not the pod name (fieldRef"
                        + " metadata.name), so replicas would share one transactional.id and fence each other");
            }
        }
        return problems;
    }

    /** One trainer pod writes the checkpoint directory: a StatefulSet of exactly one replica. */
    static List<String> singleTrainer(Rendered r) {
        List<String> problems = new ArrayList<>();
        for (Workload w : r.workloads()) {
            boolean trainer = !ServiceContainer.of(w, APP_ONLY, "trainer"::equals).isEmpty();
            if (trainer && (!w.kind().equals("StatefulSet") || (w.replicas() != null && w.replicas() != 1))) {
                problems.add(w.id() + ": the trainer must be a StatefulSet of one replica, is " + w.kind() + " of "
                        + w.replicas());
            }
        }
        return problems;
    }

    /**
     * Autoscalers target an existing workload, at most one autoscaler each, and never beyond the partitions of
     * rlhf.prompts (a replica without a partition idles); KEDA's Kafka trigger watches the sampler's real group.
     */
    static List<String> autoscalers(Rendered r, ConfigDoc docs) {
        List<String> problems = new ArrayList<>();
        int partitions = r.all(KafkaTopic.class).stream()
                .filter(t -> "rlhf.prompts".equals(t.getSpec().getTopicName()))
                .mapToInt(t -> t.getSpec().getPartitions()).findFirst().orElse(0);
        Map<String, Integer> autoscalersPerTarget = new LinkedHashMap<>();
        for (HorizontalPodAutoscaler hpa : r.all(HorizontalPodAutoscaler.class)) {
            var ref = hpa.getSpec().getScaleTargetRef();
            String where = "HorizontalPodAutoscaler " + hpa.getMetadata().getName();
            target(problems, r, where, ref.getKind(), ref.getName(), autoscalersPerTarget);
            if (hpa.getSpec().getMaxReplicas() > partitions) {
                problems.add(where + ": maxReplicas " + hpa.getSpec().getMaxReplicas()
                        + " exceeds the " + partitions + " partitions of rlhf.prompts");
            }
        }
        for (ScaledObject so : r.all(ScaledObject.class)) {
            String where = "ScaledObject " + so.metadata().getName();
            Optional<Workload> target = target(problems, r, where, so.spec().scaleTargetRef().kind(),
                    so.spec().scaleTargetRef().name(), autoscalersPerTarget);
            if (so.spec().maxReplicaCount() == null || so.spec().maxReplicaCount() > partitions) {
                problems.add(where + ": maxReplicaCount " + so.spec().maxReplicaCount()
                        + " exceeds the " + partitions + " partitions of rlhf.prompts");
            }
            if (so.spec().triggers() == null || so.spec().triggers().isEmpty()) {
                problems.add(where + ": no triggers");
                continue;
            }
            for (ScaledObject.Trigger trigger : so.spec().triggers()) {
                if (!"kafka".equals(trigger.type())) {
                    continue;
                }
                Set<String> known = Set.of("bootstrapServers", "consumerGroup", "topic", "lagThreshold",
                        "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers",
                        "scaleToZeroOnInvalidOffset", "excludePersistentLag", "limitToPartitionsWithLag", "version",
                        "partitionLimitation", "sasl", "tls");
                for (String key : trigger.metadata().keySet()) {
                    if (!known.contains(key)) {
                        problems.add(where + ": unknown kafka trigger setting " + key);
                    }
                }
                Optional<ServiceContainer> sampler = target.flatMap(t -> ServiceContainer.of(t, APP_ONLY,
                        "sampler"::equals).stream().findFirst());
                if (sampler.isPresent()) {
                    Map<String, String> config = ServiceConfig.effective(r, docs, target.get(),
                            sampler.get().container());
                    expectEqual(problems, where + " consumerGroup", trigger.metadata().get("consumerGroup"),
                            config.get("sampler.group-id"));
                    expectEqual(problems, where + " bootstrapServers", trigger.metadata().get("bootstrapServers"),
                            config.get("kafka.bootstrap-servers"));
                }
                expectEqual(problems, where + " topic", trigger.metadata().get("topic"), "rlhf.prompts");
                // Kafka has no anonymous listener: KEDA too must log in.
                String auth = trigger.authenticationRef() == null ? null : trigger.authenticationRef().name();
                if (r.all(ScaledObject.TriggerAuthentication.class).stream()
                        .noneMatch(a -> a.metadata().getName().equals(auth))) {
                    problems.add(where + ": kafka trigger without a TriggerAuthentication (" + auth + ")");
                }
            }
        }
        autoscalersPerTarget.forEach((target, count) -> {
            if (count > 1) {
                problems.add(target + ": " + count + " autoscalers fight over its replicas");
            }
            // `replicas` in the manifest resets the autoscaler's count (and rebalances the group) on every apply.
            r.workloads().stream().filter(w -> (w.kind() + " " + w.name()).equals(target) && w.replicas() != null)
                    .forEach(w -> problems.add(target + ": sets replicas " + w.replicas() + " although an "
                            + "autoscaler owns the count; every apply would reset it"));
        });
        return problems;
    }

    static boolean matches(LabelSelector selector, Map<String, String> labels) {
        if (selector == null) {
            return false;
        }
        if (selector.getMatchLabels() != null && !labels.entrySet().containsAll(selector.getMatchLabels().entrySet())) {
            return false;
        }
        for (LabelSelectorRequirement req : selector.getMatchExpressions()) {
            String value = labels.get(req.getKey());
            boolean ok = switch (req.getOperator()) {
                case "In" -> value != null && req.getValues().contains(value);
                case "NotIn" -> value == null || !req.getValues().contains(value);
                case "Exists" -> value != null;
                case "DoesNotExist" -> value == null;
                default -> throw new AssertionError("unknown selector operator " + req.getOperator());
            };
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static Optional<Workload> target(List<String> problems, Rendered r, String where, String kind,
                                             String name, Map<String, Integer> counts) {
        Optional<Workload> target = r.workloads().stream()
                .filter(w -> w.kind().equals(kind) && w.name().equals(name)).findFirst();
        if (target.isEmpty()) {
            problems.add(where + ": targets " + kind + " " + name + ", which does not exist");
        } else {
            counts.merge(target.get().id(), 1, Integer::sum);
        }
        return target;
    }

    private static void kafka(List<String> problems, Rendered r, String where, Map<String, String> config) {
        List<Kafka> clusters = r.all(Kafka.class);
        if (clusters.size() != 1) {
            problems.add(where + ": expected one Kafka cluster, found " + clusters.size());
            return;
        }
        Kafka kafka = clusters.get(0);
        String bootstrapHost = kafka.getMetadata().getName() + "-kafka-bootstrap";
        for (String server : config.get("kafka.bootstrap-servers").split(",")) {
            ServiceConfig.Address address = ServiceConfig.Address.parse(server.strip());
            Optional<GenericKafkaListener> listener = kafka.getSpec().getKafka().getListeners().stream()
                    .filter(l -> l.getPort() == address.port()).findFirst();
            if (!address.host().equals(bootstrapHost)) {
                problems.add(where + ": kafka.bootstrap-servers host " + address.host() + " is not Strimzi's "
                        + bootstrapHost);
            }
            if (listener.isEmpty()) {
                problems.add(where + ": kafka.bootstrap-servers port " + address.port() + " is no listener's port");
            } else if (listener.get().getAuth() == null) {
                // An anonymous client is no KafkaUser, so the ACLs of users.yaml would restrict nothing.
                problems.add(where + ": kafka.bootstrap-servers uses listener " + listener.get().getName()
                        + ", which connects without authentication");
            } else {
                String protocol = config.get("kafka.security-protocol");
                String wanted = listener.get().isTls() ? "SASL_SSL" : "SASL_PLAINTEXT";
                if (!wanted.equals(protocol)) {
                    problems.add(where + ": kafka.security-protocol " + protocol + " does not log in to listener "
                            + listener.get().getName() + ", expected " + wanted);
                }
            }
        }
        int brokers = r.all(KafkaNodePool.class).stream()
                .filter(p -> p.getSpec().getRoles().contains(ProcessRoles.BROKER))
                .mapToInt(p -> p.getSpec().getReplicas()).sum();
        int replication = Integer.parseInt(config.get("kafka.replication-factor"));
        if (replication > brokers) {
            problems.add(where + ": kafka.replication-factor " + replication + " exceeds the " + brokers + " brokers");
        }
        for (KafkaTopic topic : r.all(KafkaTopic.class)) {
            String name = topic.getSpec().getTopicName();
            expectEqual(problems, where + ": kafka.topic-partitions vs KafkaTopic " + name,
                    config.get("kafka.topic-partitions"), String.valueOf(topic.getSpec().getPartitions()));
            expectEqual(problems, where + ": kafka.replication-factor vs KafkaTopic " + name,
                    config.get("kafka.replication-factor"), String.valueOf(topic.getSpec().getReplicas()));
        }
    }

    private static void expectService(List<String> problems, Rendered r, ConfigDoc docs, String where,
                                       String value, String program, String rewardKind) {
        ServiceConfig.Address address = ServiceConfig.Address.parse(value);
        Optional<Service> service = r.named(Service.class, address.host());
        if (service.isEmpty()) {
            problems.add(where + ": address " + value + " names no Service");
            return;
        }
        Optional<ServicePort> port = service.get().getSpec().getPorts().stream()
                .filter(p -> p.getPort() == address.port()).findFirst();
        List<Workload> selected = r.workloads().stream().filter(Workload::longRunning)
                .filter(w -> w.labels().entrySet().containsAll(service.get().getSpec().getSelector().entrySet()))
                .toList();
        if (port.isEmpty() || selected.size() != 1) {
            problems.add(where + ": address " + value + " is no port of a Service selecting one workload");
            return;
        }
        Workload w = selected.get(0);
        Optional<Container> container = ServiceContainer.of(w, APP_ONLY, program::equals).stream()
                .map(ServiceContainer::container).findFirst();
        if (container.isEmpty()) {
            problems.add(where + ": address " + value + " leads to " + w.id() + ", which does not run " + program);
            return;
        }
        Optional<ContainerPort> grpc = Workload.port(container.get(), "grpc");
        Optional<ContainerPort> reached = containerPort(w, port.get().getTargetPort());
        if (grpc.isEmpty() || reached.isEmpty() || !grpc.get().equals(reached.get())) {
            problems.add(where + ": address " + value + " does not reach the grpc port of " + w.id());
        }
        if (rewardKind != null) {
            String kind = ServiceConfig.effective(r, docs, w, container.get()).get("reward.kind");
            if (!rewardKind.equals(kind)) {
                problems.add(where + ": address " + value + " leads to the " + kind + " reward model, not "
                        + rewardKind);
            }
        }
    }

    private static void expectPort(List<String> problems, String where, Container c, String portName, String value,
                                   String key) {
        Optional<ContainerPort> port = Workload.port(c, portName);
        if (value == null && port.isEmpty()) {
            return;
        }
        if (value == null || port.isEmpty() || !port.get().getContainerPort().equals(Integer.valueOf(value))) {
            problems.add(where + ": " + key + " = " + value + " but the container port named " + portName + " is "
                    + port.map(ContainerPort::getContainerPort).orElse(null));
        }
    }

    private static void expectEqual(List<String> problems, String what, String actual, String expected) {
        if (!Objects.equals(actual, expected)) {
            problems.add(what + ": " + actual + ", expected " + expected);
        }
    }

    private static Optional<ContainerPort> containerPort(Workload w, IntOrString port) {
        return w.containers(APP_ONLY).stream().flatMap(c -> c.getPorts().stream())
                .filter(p -> port.getStrVal() != null ? port.getStrVal().equals(p.getName())
                        : Objects.equals(port.getIntVal(), p.getContainerPort()))
                .findFirst();
    }

    private static String describe(IntOrString port) {
        return port.getStrVal() != null ? "port name " + port.getStrVal() : "port " + port.getIntVal();
    }

    private static boolean mentionsLoopback(String value) {
        return LOOPBACK.stream().anyMatch(value::contains);
    }
}
