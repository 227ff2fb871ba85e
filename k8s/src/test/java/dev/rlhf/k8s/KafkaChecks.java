package dev.rlhf.k8s;

import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.strimzi.api.kafka.model.common.template.ContainerTemplate;
import io.strimzi.api.kafka.model.common.template.PodTemplate;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.kafka.KafkaAuthorizationSimple;
import io.strimzi.api.kafka.model.kafka.entityoperator.EntityOperatorSpec;
import io.strimzi.api.kafka.model.kafka.entityoperator.EntityOperatorTemplate;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import io.strimzi.api.kafka.model.user.KafkaUserAuthorizationSimple;
import io.strimzi.api.kafka.model.user.acl.AclOperation;
import io.strimzi.api.kafka.model.user.acl.AclResourcePatternType;
import io.strimzi.api.kafka.model.user.acl.AclRule;
import io.strimzi.api.kafka.model.user.acl.AclRuleTopicResource;
import io.strimzi.api.kafka.model.user.acl.AclRuleType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The Strimzi resources: topics as DESIGN.md lists them, least-privilege users, pods the namespace admits. */
final class KafkaChecks {
    /** Who may write each topic the issue names: nobody else. */
    static final Map<String, Set<String>> WRITERS = Map.of(
            "rlhf.rollouts", Set.of("sampler"),
            "rlhf.best", Set.of("sampler"),
            "rlhf.policy-updates", Set.of("trainer"),
            "rlhf.reward-updates", Set.of("trainer"),
            "rlhf.serving", Set.of("policy", "reward"));

    /** The rlhf topics as the code defines them (platform Topics.java): name, and whether compacted. */
    record TopicList(Map<String, Boolean> compactedByName) {
        static TopicList load(Path topicsJava) {
            String source;
            try {
                source = Files.readString(topicsJava);
            } catch (IOException e) {
                throw new AssertionError("cannot read " + topicsJava + ": " + e, e);
            }
            Map<String, String> constants = new LinkedHashMap<>();
            Matcher constant = Pattern.compile("String (\\w+) = \"(rlhf\\.[^\"]+)\";").matcher(source);
            while (constant.find()) {
                constants.put(constant.group(1), constant.group(2));
            }
            List<String> all = names(source, "ALL\\s*=\\s*List\\.of\\(([^)]*)\\)", constants);
            Set<String> compacted = Set.copyOf(names(source, "COMPACTED\\s*=\\s*Set\\.of\\(([^)]*)\\)", constants));
            Map<String, Boolean> topics = new LinkedHashMap<>();
            all.forEach(t -> topics.put(t, compacted.contains(t)));
            return new TopicList(topics);
        }

        private static List<String> names(String source, String regex, Map<String, String> constants) {
            Matcher m = Pattern.compile(regex).matcher(source);
            if (!m.find()) {
                throw new AssertionError("Topics.java no longer matches " + regex + "; update KafkaChecks");
            }
            List<String> names = new ArrayList<>();
            for (String ref : m.group(1).split(",")) {
                String value = constants.get(ref.strip());
                if (value == null) {
                    throw new AssertionError("Topics.java: " + ref.strip() + " is not an rlhf topic constant");
                }
                names.add(value);
            }
            return names;
        }
    }

    private KafkaChecks() {
    }

    /** One KafkaTopic per topic of the code, compacted exactly where the code expects it, deleting elsewhere. */
    static List<String> topics(Rendered r, TopicList expected) {
        List<String> problems = new ArrayList<>();
        Map<String, KafkaTopic> byName = new LinkedHashMap<>();
        for (KafkaTopic topic : r.all(KafkaTopic.class)) {
            String name = Optional.ofNullable(topic.getSpec().getTopicName()).orElse(topic.getMetadata().getName());
            if (byName.put(name, topic) != null) {
                problems.add("topic " + name + " is declared twice");
            }
        }
        if (!byName.keySet().equals(expected.compactedByName().keySet())) {
            problems.add("KafkaTopics " + new TreeSet<>(byName.keySet()) + " differ from the code's topics "
                    + new TreeSet<>(expected.compactedByName().keySet()));
        }
        expected.compactedByName().forEach((name, compacted) -> {
            KafkaTopic topic = byName.get(name);
            if (topic == null) {
                return;
            }
            Object policy = topic.getSpec().getConfig() == null ? null : topic.getSpec().getConfig().get("cleanup.policy");
            String wanted = compacted ? "compact" : "delete";
            if (!wanted.equals(String.valueOf(policy))) {
                problems.add("KafkaTopic " + name + ": cleanup.policy " + policy + ", expected " + wanted);
            }
        });
        return problems;
    }

    /**
     * Users authenticate the way a listener accepts, authorize by ACLs the cluster enforces, never hold ALL or DENY
     * tricks, and only the named clients write the named topics.
     */
    static List<String> users(Rendered r) {
        List<String> problems = new ArrayList<>();
        Kafka kafka = r.all(Kafka.class).get(0);
        Set<String> listenerAuth = new TreeSet<>();
        kafka.getSpec().getKafka().getListeners().stream().filter(l -> l.getAuth() != null)
                .forEach(l -> listenerAuth.add(l.getAuth().getType()));
        if (!(kafka.getSpec().getKafka().getAuthorization() instanceof KafkaAuthorizationSimple)) {
            problems.add("Kafka " + kafka.getMetadata().getName() + ": no simple authorization, so ACLs are ignored");
        }
        Map<String, Set<String>> writers = new LinkedHashMap<>();
        WRITERS.keySet().forEach(t -> writers.put(t, new TreeSet<>()));
        for (KafkaUser user : r.all(KafkaUser.class)) {
            String name = user.getMetadata().getName();
            if (user.getSpec().getAuthentication() == null
                    || !listenerAuth.contains(user.getSpec().getAuthentication().getType())) {
                problems.add("KafkaUser " + name + ": authenticates in a way no listener accepts (" + listenerAuth + ")");
            }
            if (!(user.getSpec().getAuthorization() instanceof KafkaUserAuthorizationSimple simple)) {
                problems.add("KafkaUser " + name + ": no simple ACLs");
                continue;
            }
            for (AclRule rule : simple.getAcls()) {
                List<AclOperation> operations = rule.getOperations() == null ? List.of() : rule.getOperations();
                if (rule.getType() == AclRuleType.DENY) {
                    problems.add("KafkaUser " + name + ": DENY rules make the intent hard to read; grant less instead");
                }
                if (operations.contains(AclOperation.ALL)) {
                    problems.add("KafkaUser " + name + ": grants ALL on " + rule.getResource().getType());
                }
                if (rule.getResource() instanceof AclRuleTopicResource topic
                        && operations.contains(AclOperation.WRITE)) {
                    for (String written : WRITERS.keySet()) {
                        if (covers(topic, written)) {
                            writers.get(written).add(name);
                        }
                    }
                }
            }
        }
        WRITERS.forEach((topic, allowed) -> {
            if (!writers.get(topic).equals(allowed)) {
                problems.add(topic + " is writable by " + writers.get(topic) + ", expected only " + allowed);
            }
        });
        return problems;
    }

    /**
     * Strimzi's pods live in the same restricted namespace: pod and container security contexts through the
     * templates, and resources for brokers and operators; the container rules are our own pods' (PodPolicies).
     */
    static List<String> strimziPods(Rendered r) {
        List<String> problems = new ArrayList<>();
        for (KafkaNodePool pool : r.all(KafkaNodePool.class)) {
            String where = "KafkaNodePool " + pool.getMetadata().getName();
            var template = pool.getSpec().getTemplate();
            PodTemplate pod = template == null ? null : template.getPod();
            pod(problems, where, pod);
            // A pod securityContext replaces Strimzi's default fsGroup 0: without it the broker (uid 1001, group 0)
            // cannot write a fresh root-owned cloud volume.
            if (pod != null && pod.getSecurityContext() != null
                    && !Long.valueOf(0).equals(pod.getSecurityContext().getFsGroup())) {
                problems.add(where + ": pod security context replaces Strimzi's fsGroup 0, so the brokers cannot "
                        + "write a fresh cloud volume");
            }
            boolean spread = pod != null && pod.getTopologySpreadConstraints() != null && pod
                    .getTopologySpreadConstraints().stream().anyMatch(t -> "kubernetes.io/hostname".equals(
                            t.getTopologyKey()) && "DoNotSchedule".equals(t.getWhenUnsatisfiable()));
            if (!spread && pool.getSpec().getReplicas() > 1) {
                problems.add(where + ": brokers may share a node, whose loss would take the KRaft quorum");
            }
            container(problems, where + " kafka container", template == null ? null : template.getKafkaContainer(),
                    pod);
            problems.addAll(PodPolicies.resources(where + " kafka container", pool.getSpec().getResources()));
        }
        for (Kafka kafka : r.all(Kafka.class)) {
            EntityOperatorSpec eo = kafka.getSpec().getEntityOperator();
            if (eo == null) {
                problems.add("Kafka " + kafka.getMetadata().getName() + ": no entity operator, so KafkaTopics and"
                        + " KafkaUsers are never applied");
                continue;
            }
            String where = "Kafka " + kafka.getMetadata().getName() + " entity operator";
            EntityOperatorTemplate template = eo.getTemplate();
            PodTemplate pod = template == null ? null : template.getPod();
            pod(problems, where, pod);
            if (eo.getTopicOperator() != null) {
                container(problems, where + " topic operator",
                        template == null ? null : template.getTopicOperatorContainer(), pod);
                problems.addAll(PodPolicies.resources(where + " topic operator",
                        eo.getTopicOperator().getResources()));
            }
            if (eo.getUserOperator() != null) {
                container(problems, where + " user operator",
                        template == null ? null : template.getUserOperatorContainer(), pod);
                problems.addAll(PodPolicies.resources(where + " user operator",
                        eo.getUserOperator().getResources()));
            }
        }
        return problems;
    }

    private static boolean covers(AclRuleTopicResource resource, String topic) {
        if (resource.getPatternType() == AclResourcePatternType.PREFIX) {
            return topic.startsWith(resource.getName());
        }
        return "*".equals(resource.getName()) || topic.equals(resource.getName());
    }

    /**
     * Stricter than for our pods, where containers may set these instead: the pod-level context itself must be
     * non-root with seccomp RuntimeDefault, since it is what covers every container Strimzi runs, templated or not.
     */
    private static void pod(List<String> problems, String where, PodTemplate template) {
        PodSecurityContext sc = template == null ? null : template.getSecurityContext();
        if (sc == null || !Boolean.TRUE.equals(sc.getRunAsNonRoot()) || sc.getSeccompProfile() == null
                || !"RuntimeDefault".equals(sc.getSeccompProfile().getType())) {
            problems.add(where + ": pod security context lacks runAsNonRoot and seccomp RuntimeDefault");
        }
    }

    private static void container(List<String> problems, String where, ContainerTemplate template, PodTemplate pod) {
        problems.addAll(PodPolicies.containerSecurity(where, template == null ? null : template.getSecurityContext(),
                pod == null ? null : pod.getSecurityContext()));
        // The shared rule accepts runAsNonRoot inherited from the pod; Strimzi's templates were always held to
        // setting it on the container too, and still are, so no check became weaker by sharing.
        if (template == null || template.getSecurityContext() == null
                || !Boolean.TRUE.equals(template.getSecurityContext().getRunAsNonRoot())) {
            problems.add(where + ": container security context does not set runAsNonRoot itself");
        }
    }
}
