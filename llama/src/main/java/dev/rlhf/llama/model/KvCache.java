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
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final int capacity;
    private int length;

    public KvCache(NDManager parent, LlamaConfig config, int batch, int capacity, DataType dtype) {
        this.manager = parent.newSubManager();
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
        NDIndex slot = new NDIndex(":, :, {}:{}", length, end);
        keys[layer].set(slot, k);
        values[layer].set(slot, v);
        NDIndex prefix = new NDIndex(":, :, :{}", end);
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
