package dev.rlhf.launcher.pipeline;

import dev.rlhf.launcher.LocalCluster;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.vocabulary.RewardKind;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Waits for a service of a {@link LocalCluster} to serve a model version, the step every demo stage that learns
 * through the services takes: the policy service between iterations, a reward service after its pairs. It gives up
 * as soon as the wait cannot end: a service stopped, or the sampler dead-lettered a prompt (its sample will never
 * reach the trainer).
 */
final class ServedVersions {
    private final LocalCluster cluster;
    private final String model;
    private final AtomicLong served;
    private final Object monitor = new Object();
    /** Why the service refused an update since this started waiting (null: none), so a wait ends at once. */
    private final java.util.function.Supplier<String> refused;

    /** The policy service's versions. */
    ServedVersions(LocalCluster cluster) {
        this.cluster = cluster;
        this.model = "policy";
        this.served = new AtomicLong(cluster.policy().servingVersion());
        cluster.policy().updater().onSwap(this::swapped);
        long failedAtStart = cluster.policy().updater().failedLoads();
        this.refused = () -> cluster.policy().updater().failedLoads() > failedAtStart
                ? "the policy service refused an update (its log says why)" : null;
    }

    /** The versions of the reward service of {@code kind}. */
    ServedVersions(LocalCluster cluster, RewardKind kind) {
        this.cluster = cluster;
        this.model = kind.key() + " reward model";
        var service = kind == RewardKind.SAFETY ? cluster.safety() : cluster.helpfulness();
        this.served = new AtomicLong(service.servingVersion());
        service.updater().onOutcome(o -> swapped(service.servingVersion()));
        long failedAtStart = service.updater().failedLoads();
        this.refused = () -> service.updater().failedLoads() > failedAtStart
                ? "the " + kind.key() + " reward service refused an update (its log says why)" : null;
    }

    private void swapped(long version) {
        served.set(version);
        synchronized (monitor) {
            monitor.notifyAll();
        }
    }

    long served() {
        return served.get();
    }

    /**
     * Blocks until version {@code target} is served; {@code progress} hears each newly served version.
     * @param what names the work in error messages ("rejection sampling iteration 2")
     */
    void await(long target, Duration timeout, String what, LongConsumer progress) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long seen = served.get();
        synchronized (monitor) {
            while (served.get() < target) {
                String refusal = refused.get();
                if (refusal != null) {
                    throw new IllegalStateException(what + " cannot reach " + model + " version " + target + ": "
                            + refusal);
                }
                Throwable failed = cluster.failure();
                if (failed != null) {
                    throw new IllegalStateException(what + " cannot finish, a service stopped: "
                            + failed.getMessage(), failed);
                }
                long dead = cluster.sampler().deadLettered();
                if (dead > 0) {
                    throw new IllegalStateException(what + " cannot reach " + model + " version " + target
                            + ": the sampler dead-lettered " + dead + " prompt(s) to " + Topics.DEAD_LETTER
                            + " (too long for the policy's context, or a service that kept failing)");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException(what + " did not reach " + model + " version " + target + " within "
                            + timeout + " (serving " + served.get() + ")");
                }
                if (served.get() != seen) {
                    seen = served.get();
                    progress.accept(seen);
                }
                monitor.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 1000)));
            }
        }
        if (served.get() != seen) {
            progress.accept(served.get());
        }
    }
}
