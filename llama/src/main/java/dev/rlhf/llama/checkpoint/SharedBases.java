package dev.rlhf.llama.checkpoint;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.checkpoint.LlamaCheckpoint.ScoreHead;
import dev.rlhf.llama.model.LlamaWeights;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The base models a service's adapter versions stand on, each loaded once while any version uses it: a new
 * adapter version swaps in by reading only its adapter (megabytes) onto the base already in memory, and two
 * versions alive at once (a hot swap's overlap) hold one base, not two. Full checkpoints load as always.
 */
public final class SharedBases implements AutoCloseable {
    private final NDManager parent;
    private final Map<String, Entry> bases = new HashMap<>();

    private static final class Entry {
        final LlamaWeights base;
        int users;

        Entry(LlamaWeights base) {
            this.base = base;
        }
    }

    /** Bases are loaded into sub-managers of {@code parent}. */
    public SharedBases(NDManager parent) {
        this.parent = parent;
    }

    /**
     * Loads {@code dir} into {@code manager}: a full checkpoint on its own; an adapter onto its base, shared with
     * the other loaded versions on the same base (by fingerprint) and released when the returned weights close.
     */
    public LlamaWeights load(Path dir, NDManager manager, ScoreHead scoreHead) {
        if (!AdapterCheckpoint.isAdapter(dir)) {
            return LlamaCheckpoint.load(dir, manager, scoreHead);
        }
        AdapterCheckpoint.Parsed parsed = AdapterCheckpoint.read(dir);
        Path baseDir = AdapterCheckpoint.baseDirectory(dir, parsed, null);
        String fingerprint = AdapterCheckpoint.checkedFingerprint(dir, parsed, baseDir);
        Entry entry;
        synchronized (this) {
            entry = bases.get(fingerprint);
            if (entry == null) {
                // OPTIONAL: a reward base's score head is shared too; an adapter's own head replaces it.
                entry = new Entry(LlamaCheckpoint.load(baseDir, parent, ScoreHead.OPTIONAL));
                bases.put(fingerprint, entry);
            }
            entry.users++;
        }
        Entry held = entry;
        LlamaWeights view = LlamaWeights.borrowing(held.base, manager.newSubManager(), () -> release(fingerprint, held));
        return AdapterCheckpoint.attach(view, dir, parsed, baseDir, fingerprint, scoreHead);
    }

    private synchronized void release(String fingerprint, Entry entry) {
        if (--entry.users == 0 && bases.get(fingerprint) == entry) {
            bases.remove(fingerprint);
            entry.base.close();
        }
    }

    /** How many bases are loaded now. */
    public synchronized int loaded() {
        return bases.size();
    }

    @Override
    public synchronized void close() {
        bases.values().forEach(e -> e.base.close());
        bases.clear();
    }
}
