package dev.rlhf.trainer.domain;

import com.google.gson.JsonObject;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Kafka positions a checkpoint's weights include: for each partition of the consumed topic, the next
 * offset to read and how many records were trained. Stored in the checkpoint manifest, so a restarted trainer
 * seeks to exactly where its newest complete checkpoint stopped (DESIGN.md §3: nothing lost, nothing trained
 * twice). The offsets belong to one broker's log, named by its cluster id.
 */
public final class OffsetLedger {
    private final Map<Integer, Long> nextOffsets = new TreeMap<>();
    private final Map<Integer, Long> trainedCounts = new TreeMap<>();
    /** The cluster whose log the offsets refer to; null until the trainer first sees its broker. */
    private String clusterId;

    /**
     * Binds the offsets to the log of cluster {@code id}. A ledger of another cluster (a broker whose log was lost
     * or replaced) has offsets that mean nothing there: they are dropped, so the new log is read from its start, and
     * the old cluster id is returned for the caller to report; otherwise null. Counts of trained records are kept.
     */
    public String adoptCluster(String id) {
        if (clusterId == null || clusterId.equals(id)) {
            clusterId = id;
            return null;
        }
        String previous = clusterId;
        clusterId = id;
        nextOffsets.clear();
        return previous;
    }

    public String clusterId() {
        return clusterId;
    }

    /** Records that the record at {@code offset} of {@code partition} was trained. */
    public void recordTrained(int partition, long offset) {
        long next = nextOffsets.getOrDefault(partition, 0L);
        if (offset < next) {
            throw new IllegalStateException("partition " + partition + ": offset " + offset
                    + " was already trained (next expected " + next + ")");
        }
        nextOffsets.put(partition, offset + 1);
        trainedCounts.merge(partition, 1L, Long::sum);
    }

    /**
     * Records that the record at {@code offset} was consumed but deliberately not trained (another model's data, or
     * a rollout too stale to use): a restart need not read it again.
     */
    public void recordSkipped(int partition, long offset) {
        long next = nextOffsets.getOrDefault(partition, 0L);
        if (offset < next) {
            throw new IllegalStateException("partition " + partition + ": offset " + offset
                    + " was already consumed (next expected " + next + ")");
        }
        nextOffsets.put(partition, offset + 1);
    }

    /** Next offset to consume for a partition (0 when never seen). */
    public long nextOffset(int partition) {
        return nextOffsets.getOrDefault(partition, 0L);
    }

    public Map<Integer, Long> nextOffsets() {
        return Map.copyOf(nextOffsets);
    }

    public long trainedCount(int partition) {
        return trainedCounts.getOrDefault(partition, 0L);
    }

    public long totalTrained() {
        return trainedCounts.values().stream().mapToLong(Long::longValue).sum();
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        JsonObject next = new JsonObject();
        nextOffsets.forEach((p, off) -> next.addProperty(Integer.toString(p), off));
        JsonObject counts = new JsonObject();
        trainedCounts.forEach((p, n) -> counts.addProperty(Integer.toString(p), n));
        o.add("next_offsets", next);
        o.add("trained_counts", counts);
        if (clusterId != null) {
            o.addProperty("cluster_id", clusterId);
        }
        return o;
    }

    public static OffsetLedger fromJson(JsonObject o) {
        OffsetLedger ledger = new OffsetLedger();
        if (o == null) {
            return ledger;
        }
        o.getAsJsonObject("next_offsets").entrySet()
                .forEach(e -> ledger.nextOffsets.put(Integer.parseInt(e.getKey()), e.getValue().getAsLong()));
        o.getAsJsonObject("trained_counts").entrySet()
                .forEach(e -> ledger.trainedCounts.put(Integer.parseInt(e.getKey()), e.getValue().getAsLong()));
        ledger.clusterId = o.has("cluster_id") ? o.get("cluster_id").getAsString() : null;
        return ledger;
    }

    public OffsetLedger copy() {
        return fromJson(toJson());
    }
}
