package dev.rlhf.reward.domain;

import dev.rlhf.llama.checkpoint.UpdateChecks;
import dev.rlhf.llama.reward.RewardModel;

import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.vocabulary.HotSwap;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Applies new reward-model versions: loads a checkpoint in the background, verifies it against the update's
 * manifest sha256 (the manifest then vouches for every other file), and swaps it in atomically. A missing,
 * corrupt or unverifiable checkpoint leaves the serving model in place, logged and counted; versions not newer
 * than the serving one are ignored.
 */
public final class RewardUpdater implements AutoCloseable {
    /** How long shutdown waits for a load in progress before giving up on it. */
    private static final long CLOSE_WAIT_SECONDS = 30;

    /** What became of one offered update. */
    public enum Result { APPLIED, STALE, REJECTED }

    /** The result of an offered update, with the reason when it was not applied. */
    public record Outcome(long version, Result result, String detail) {}

    private final RewardKind kind;
    private final HotSwap<RewardModel> models;
    private final NDManager manager;
    /** LoRA versions on one base share it: a swap reads only the adapter. */
    private final dev.rlhf.llama.checkpoint.SharedBases bases;
    private final Consumer<String> log;
    private final ExecutorService loader = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "reward-loader");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong failedLoads = new AtomicLong();
    private final AtomicLong swaps = new AtomicLong();
    private volatile Consumer<Outcome> onOutcome = outcome -> { };

    /** Told (version, directory) after each swap, on the thread that swapped. */
    private volatile java.util.function.BiConsumer<Long, Path> onSwap = (v, d) -> { };

    /** Sets the hook told after each swap, the start-up load included. */
    public void onSwap(java.util.function.BiConsumer<Long, Path> hook) {
        this.onSwap = hook == null ? (v, d) -> { } : hook;
    }

    public RewardUpdater(RewardKind kind, HotSwap<RewardModel> models, NDManager manager, Consumer<String> log) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.models = Objects.requireNonNull(models, "models");
        this.manager = Objects.requireNonNull(manager, "manager");
        this.bases = new dev.rlhf.llama.checkpoint.SharedBases(manager);
        this.log = Objects.requireNonNull(log, "log");
    }

    /** Loads the start-up checkpoint synchronously; failures propagate, since there is nothing to serve yet. */
    public void loadInitial(long version, Path dir) {
        models.swap(RewardModel.load(kind, version, dir, manager, bases), version);
        onSwap.accept(version, dir);
        swaps.incrementAndGet();
    }

    /**
     * Queues an update; the Future completes with its outcome, which also goes to {@link #onOutcome}.
     *
     * @param location the checkpoint directory, as a path or a {@code file:} URI (ModelUpdate.uri)
     */
    public Future<Outcome> offer(long version, String location, String manifestSha256) {
        return loader.submit(() -> {
            Outcome outcome = apply(version, location, manifestSha256);
            onOutcome.accept(outcome);
            return outcome;
        });
    }

    private Outcome apply(long version, String location, String manifestSha256) {
        long serving = models.version();
        if (version <= serving) {
            log.accept("ignoring " + name() + " update " + version + ": serving version " + serving
                    + " is newer or equal");
            return new Outcome(version, Result.STALE, "serving version " + serving);
        }
        RewardModel next = null;
        try {
            Path dir = UpdateChecks.verifiedDirectory(location, manifestSha256);
            next = RewardModel.load(kind, version, dir, manager, bases);
            try (HotSwap.Lease<RewardModel> current = models.acquire()) {
                UpdateChecks.servable(current == null ? null : current.value().model().config(), next.model());
            }
            models.swap(next, version);
            next = null; // serving now: the catch below must not close it
            swaps.incrementAndGet();
            log.accept("serving " + name() + " version " + version + " from " + dir);
            onSwap.accept(version, dir);
            return new Outcome(version, Result.APPLIED, location);
        } catch (RuntimeException e) {
            if (next != null) {
                next.close();
            }
            failedLoads.incrementAndGet();
            log.accept(name() + " update " + version + " rejected, still serving " + serving + ": " + e.getMessage());
            return new Outcome(version, Result.REJECTED, String.valueOf(e.getMessage()));
        }
    }

    /** Called on the loader thread after each offered update; for metrics and tests. */
    public void onOutcome(Consumer<Outcome> listener) {
        this.onOutcome = listener == null ? outcome -> { } : listener;
    }

    /** Updates that could not be loaded or verified. */
    public long failedLoads() {
        return failedLoads.get();
    }

    /** Models swapped in, the start-up one included. */
    public long swaps() {
        return swaps.get();
    }

    private String name() {
        return kind.name().toLowerCase(Locale.ROOT) + " reward model";
    }

    /** Stops taking updates and waits for a load in progress, so it does not swap in after shutdown. */
    @Override
    public void close() {
        loader.shutdown();
        try {
            loader.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
