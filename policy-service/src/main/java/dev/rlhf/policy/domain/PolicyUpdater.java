package dev.rlhf.policy.domain;

import dev.rlhf.llama.checkpoint.SharedBases;
import dev.rlhf.llama.checkpoint.UpdateChecks;
import dev.rlhf.vocabulary.HotSwap;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Applies new policy versions: loads a checkpoint in the background (verifying checksums), then swaps it in
 * atomically. A missing or corrupt checkpoint leaves the serving version in place and is counted; stale or
 * repeated versions are ignored.
 */
public final class PolicyUpdater implements AutoCloseable {
    private final HotSwap<PolicyVersion> policies;
    private final NDManager manager;
    private final Consumer<String> log;
    private final ExecutorService loader = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "policy-loader");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong failedLoads = new AtomicLong();
    private final AtomicLong swaps = new AtomicLong();
    private volatile java.util.function.LongConsumer onSwap = v -> { };
    /** Told after every swap besides {@link #onSwap}'s hook (the serving announcement). */
    private final java.util.List<java.util.function.LongConsumer> swapListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    /** LoRA versions on one base share it: a swap reads only the adapter. */
    private final SharedBases bases;

    /** Whether versions decode one-row batches on the CPU decoder when they can ({@code policy.cpu-decode}). */
    private final boolean cpuDecode;

    public PolicyUpdater(HotSwap<PolicyVersion> policies, NDManager manager, Consumer<String> log) {
        this(policies, manager, log, false);
    }

    public PolicyUpdater(HotSwap<PolicyVersion> policies, NDManager manager, Consumer<String> log,
                         boolean cpuDecode) {
        this.policies = policies;
        this.manager = manager;
        this.log = log;
        this.bases = new SharedBases(manager);
        this.cpuDecode = cpuDecode;
    }

    /** How many base models the served adapter versions stand on now (0 when serving full checkpoints). */
    public int sharedBases() {
        return bases.loaded();
    }

    /** Loads synchronously (start-up); failures propagate. */
    public void loadInitial(long version, Path dir) {
        policies.swap(PolicyVersion.load(version, dir, null, manager, bases, cpuDecode), version);
        swaps.incrementAndGet();
    }

    /**
     * Queues an update; returns a future that completes when it was applied or rejected. Refused (logged and
     * counted, the serving version kept): a location that is not a local path or {@code file:} URI, a missing or
     * different manifest sha256, a model whose vocabulary, context or tensor shapes differ from the served one, and
     * one whose canary forward pass is not finite ({@link UpdateChecks}).
     */
    public Future<?> offer(long version, String location, String manifestSha256) {
        return loader.submit(() -> {
            long serving = policies.version();
            if (version <= serving) {
                log.accept("ignoring policy update " + version + ": serving version " + serving + " is newer or equal");
                return;
            }
            PolicyVersion next = null;
            try {
                Path dir = UpdateChecks.verifiedDirectory(location, manifestSha256);
                next = PolicyVersion.load(version, dir, manifestSha256, manager, bases, cpuDecode);
                try (HotSwap.Lease<PolicyVersion> current = policies.acquire()) {
                    UpdateChecks.servable(current == null ? null : current.value().model().config(), next.model());
                }
                policies.swap(next, version);
                next = null; // serving now: the catch below must not close it
                swaps.incrementAndGet();
                log.accept("serving policy version " + version + " from " + dir);
                onSwap.accept(version);
                swapListeners.forEach(l -> l.accept(version));
            } catch (RuntimeException e) {
                if (next != null) {
                    next.close();
                }
                failedLoads.incrementAndGet();
                log.accept("policy update " + version + " rejected, still serving " + serving + ": " + e.getMessage());
            }
        });
    }

    /** As {@link #offer(long, String, String)} for a checkpoint directory. */
    public Future<?> offer(long version, Path dir, String manifestSha256) {
        return offer(version, dir.toString(), manifestSha256);
    }

    /** Adds a listener told the version after every swap; unlike {@link #onSwap}, it replaces nothing. */
    public void addSwapListener(java.util.function.LongConsumer listener) {
        swapListeners.add(listener);
    }

    /** Called on the loader thread after each successful swap, with the new version. */
    public void onSwap(java.util.function.LongConsumer hook) {
        this.onSwap = hook == null ? v -> { } : hook;
    }

    public long failedLoads() {
        return failedLoads.get();
    }

    public long swaps() {
        return swaps.get();
    }

    @Override
    public void close() {
        loader.shutdown();
    }
}
