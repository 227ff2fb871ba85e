package dev.rlhf.llama.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.config.LlamaConfig;

/**
 * Pre-allocated key/value cache for incremental decoding: one (B, nKvHeads, capacity, headDim) buffer per
 * layer for keys and one for values, written in place, so a decode step costs no copy of the past.
 *
 * <p>For continuous batching the first {@link #activeRows()} rows are the ones a forward pass reads and writes;
 * rows are moved, slots shifted and prefilled rows copied in between steps ({@link #moveRow}, {@link #shift},
 * {@link #copyIn}). Every row shares the write position {@link #length()}; a row's own tokens sit at the end of
 * the slots before it (left padding), which the attention mask hides.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final int rows;
    private final int capacity;
    private int activeRows;
    private int length;

    public KvCache(NDManager parent, LlamaConfig config, int batch, int capacity, DataType dtype) {
        this.manager = parent.newSubManager();
        this.rows = batch;
        this.activeRows = batch;
        this.capacity = capacity;
        int layers = config.numHiddenLayers();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        Shape shape = new Shape(batch, config.numKeyValueHeads(), capacity, config.headDim());
        for (int i = 0; i < layers; i++) {
            keys[i] = manager.zeros(shape, dtype);
            values[i] = manager.zeros(shape, dtype);
        }
    }

    /** Rows allocated. */
    public int rows() {
        return rows;
    }

    /** Rows [0, activeRows) take part in forward passes. */
    public int activeRows() {
        return activeRows;
    }

    public void setActiveRows(int active) {
        if (active < 0 || active > rows) {
            throw new IllegalArgumentException("active rows " + active + " outside [0, " + rows + "]");
        }
        this.activeRows = active;
    }

    /** Sets the shared write position (after {@link #shift}, or to restart an empty cache). */
    public void setLength(int newLength) {
        if (newLength < 0 || newLength > capacity) {
            throw new IllegalArgumentException("length " + newLength + " outside [0, " + capacity + "]");
        }
        this.length = newLength;
    }

    /**
     * A cache with room for {@code newCapacity} positions holding this one's active rows and slots (a running
     * batch that needs more positions than it was sized for); this one is closed.
     */
    public KvCache grown(NDManager parent, LlamaConfig config, int newCapacity) {
        if (newCapacity < length) {
            throw new IllegalArgumentException("capacity " + newCapacity + " < length " + length);
        }
        KvCache bigger = new KvCache(parent, config, rows, newCapacity, keys[0].getDataType());
        bigger.activeRows = activeRows;
        bigger.length = length;
        if (length > 0 && activeRows > 0) {
            NDIndex slots = new NDIndex(":{}, :, :{}", activeRows, length);
            for (int i = 0; i < keys.length; i++) {
                try (NDArray k = keys[i].get(slots); NDArray v = values[i].get(slots)) {
                    bigger.keys[i].set(slots, k);
                    bigger.values[i].set(slots, v);
                }
            }
        }
        close();
        return bigger;
    }

    /** Copies row {@code from}'s cached slots [0, length) over row {@code to} (a finished row's place). */
    public void moveRow(int from, int to) {
        if (from == to || length == 0) {
            return;
        }
        NDIndex src = new NDIndex("{}, :, :{}", from, length);
        NDIndex dst = new NDIndex("{}, :, :{}", to, length);
        for (int i = 0; i < keys.length; i++) {
            try (NDArray k = keys[i].get(src); NDArray v = values[i].get(src)) {
                keys[i].set(dst, k);
                values[i].set(dst, v);
            }
        }
    }

    /**
     * Moves the active rows' slots [from, length) to start at slot {@code to} (left to free room at the end, or
     * right to make room before the write position), and sets the length to match. Through a copy: source and
     * destination overlap.
     */
    public void shift(int from, int to) {
        int count = length - from;
        if (from < 0 || count < 0 || to < 0 || to + count > capacity) {
            throw new IllegalArgumentException("cannot move slots [" + from + ", " + length + ") to " + to
                    + " with capacity " + capacity);
        }
        if (from != to && count > 0 && activeRows > 0) {
            NDIndex src = new NDIndex(":{}, :, {}:{}", activeRows, from, length);
            NDIndex dst = new NDIndex(":{}, :, {}:{}", activeRows, to, to + count);
            for (int i = 0; i < keys.length; i++) {
                try (NDArray k = keys[i].get(src).duplicate(); NDArray v = values[i].get(src).duplicate()) {
                    keys[i].set(dst, k);
                    values[i].set(dst, v);
                }
            }
        }
        this.length = to + count;
    }

    /**
     * Copies {@code count} slots ending at {@code source}'s length from row {@code sourceRow} of {@code source}
     * into row {@code row} here, ending at this cache's length (a prefilled prompt joining a running batch).
     */
    public void copyIn(KvCache source, int sourceRow, int row, int count) {
        if (count > length || count > source.length) {
            throw new IllegalArgumentException(count + " slots do not fit before position " + length);
        }
        NDIndex src = new NDIndex("{}, :, {}:{}", sourceRow, source.length - count, source.length);
        NDIndex dst = new NDIndex("{}, :, {}:{}", row, length - count, length);
        for (int i = 0; i < keys.length; i++) {
            try (NDArray k = source.keys[i].get(src); NDArray v = source.values[i].get(src)) {
                keys[i].set(dst, k);
                values[i].set(dst, v);
            }
        }
    }

    /** Number of positions already cached. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /**
     * Writes k, v (B, nKv, T, hd) of one layer at positions [length, length + T) and returns views of the whole
     * cached prefix (B, nKv, length + T, hd). The cache length advances once per forward, in {@link #advance}.
     */
    NDArray[] append(int layer, NDArray k, NDArray v) {
        long t = k.getShape().get(2);
        int end = Math.toIntExact(length + t);
        if (end > capacity) {
            throw new IllegalStateException("KV cache full: " + end + " > capacity " + capacity);
        }
        NDIndex slot = new NDIndex(":{}, :, {}:{}", activeRows, length, end);
        keys[layer].set(slot, k);
        values[layer].set(slot, v);
        NDIndex prefix = new NDIndex(":{}, :, :{}", activeRows, end);
        return new NDArray[] {keys[layer].get(prefix), values[layer].get(prefix)};
    }

    void advance(int steps) {
        length += steps;
    }

    @Override
    public void close() {
        manager.close();
    }
}
