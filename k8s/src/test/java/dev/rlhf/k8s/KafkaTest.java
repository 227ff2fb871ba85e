package dev.rlhf.k8s;

import static dev.rlhf.k8s.Sources.TOPICS;
import static dev.rlhf.k8s.Sources.assertFlags;
import static dev.rlhf.k8s.Sources.assertNone;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.Namespace;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import io.strimzi.api.kafka.model.user.KafkaUserAuthorizationSimple;
import io.strimzi.api.kafka.model.user.acl.AclOperation;
import io.strimzi.api.kafka.model.user.acl.AclResourcePatternType;
import io.strimzi.api.kafka.model.user.acl.AclRule;
import io.strimzi.api.kafka.model.user.acl.AclRuleTopicResource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Topics as the code defines them, ACLs of least privilege, Strimzi pods the restricted namespace admits. */
class KafkaTest {

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void topicsUsersAndStrimziPodsFollowThePolicies(String variant) {
        Rendered r = Variants.get(variant);
        List<String> problems = new ArrayList<>();
        problems.addAll(KafkaChecks.topics(r, TOPICS));
        problems.addAll(KafkaChecks.users(r));
        problems.addAll(KafkaChecks.strimziPods(r));
        assertNone(problems);
    }

    @ParameterizedTest
    @MethodSource("dev.rlhf.k8s.Variants#names")
    void theNamespaceEnforcesTheRestrictedStandard(String variant) {
        List<Namespace> namespaces = Variants.get(variant).all(Namespace.class);
        assertEquals(1, namespaces.size());
        assertEquals("restricted", namespaces.get(0).getMetadata().getLabels().get("pod-security.kubernetes.io/enforce"));
    }

    @Test
    void theCodeDefinesEightTopicsThreeOfThemCompacted() {
        // Guards the Topics.java reader itself: an empty list would make the topic check pass vacuously.
        assertEquals(8, TOPICS.compactedByName().size(), TOPICS.toString());
        assertEquals(List.of("rlhf.policy-updates", "rlhf.reward-updates", "rlhf.serving"),
                TOPICS.compactedByName().entrySet()
                .stream().filter(e -> e.getValue()).map(e -> e.getKey()).sorted().toList());
    }

    @Test
    void aMissingTopicAndAnUncompactedUpdateTopicAreFlagged() {
        Rendered r = Variants.get("base").copy();
        r.objects().removeIf(o -> o instanceof KafkaTopic t && t.getSpec().getTopicName().equals("rlhf.dead-letter"));
        r.all(KafkaTopic.class).stream().filter(t -> t.getSpec().getTopicName().equals("rlhf.reward-updates"))
                .forEach(t -> t.getSpec().getConfig().put("cleanup.policy", "delete"));
        List<String> problems = KafkaChecks.topics(r, TOPICS);
        assertFlags(problems, "differ from the code's topics");
        assertFlags(problems, "rlhf.reward-updates: cleanup.policy delete, expected compact");
    }

    @Test
    void anotherWriterOfTheBestSamplesOrOfTheUpdatesIsFlagged() {
        Rendered r = Variants.get("base").copy();
        KafkaUser policy = r.required(KafkaUser.class, "policy");
        List<AclRule> acls = ((KafkaUserAuthorizationSimple) policy.getSpec().getAuthorization()).getAcls();
        AclRule prefixWrite = new AclRule();
        AclRuleTopicResource everything = new AclRuleTopicResource();
        everything.setName("rlhf.");
        everything.setPatternType(AclResourcePatternType.PREFIX);
        prefixWrite.setResource(everything);
        prefixWrite.setOperations(List.of(AclOperation.WRITE));
        acls.add(prefixWrite);
        List<String> problems = KafkaChecks.users(r);
        assertFlags(problems, "rlhf.best is writable by [policy, sampler], expected only [sampler]");
        assertFlags(problems, "rlhf.policy-updates is writable by [policy, trainer], expected only [trainer]");
    }

    @Test
    void aGrantOfAllIsFlagged() {
        Rendered r = Variants.get("base").copy();
        KafkaUser trainer = r.required(KafkaUser.class, "trainer");
        ((KafkaUserAuthorizationSimple) trainer.getSpec().getAuthorization()).getAcls().get(0)
                .setOperations(List.of(AclOperation.ALL));
        assertFlags(KafkaChecks.users(r), "KafkaUser trainer: grants ALL on topic");
    }

    @Test
    void aBrokerWithoutRestrictedSecurityContextIsFlagged() {
        Rendered r = Variants.get("base").copy();
        r.all(KafkaNodePool.class).get(0).getSpec().getTemplate().getKafkaContainer().getSecurityContext()
                .setReadOnlyRootFilesystem(null);
        r.all(KafkaNodePool.class).get(0).getSpec().getTemplate().getPod().setSecurityContext(null);
        List<String> problems = KafkaChecks.strimziPods(r);
        assertFlags(problems, "KafkaNodePool dual-role kafka container: root filesystem is writable");
        assertFlags(problems, "KafkaNodePool dual-role: pod security context lacks runAsNonRoot");
    }

    @Test
    void aBrokerPodWithoutFsGroupZeroIsFlagged() {
        Rendered r = Variants.get("base").copy();
        r.all(KafkaNodePool.class).get(0).getSpec().getTemplate().getPod().getSecurityContext().setFsGroup(null);
        assertFlags(KafkaChecks.strimziPods(r), "KafkaNodePool dual-role: pod security context replaces Strimzi's "
                + "fsGroup 0");
    }
}
