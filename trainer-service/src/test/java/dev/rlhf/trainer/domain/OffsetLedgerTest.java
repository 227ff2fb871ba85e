package dev.rlhf.trainer.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class OffsetLedgerTest {
    @Test
    void tracksNextOffsetsAndCountsPerPartitionAndRoundTripsThroughJson() {
        OffsetLedger ledger = new OffsetLedger();
        ledger.recordTrained(0, 0);
        ledger.recordTrained(0, 1);
        ledger.recordTrained(2, 10); // transactional topics skip offsets (commit markers)
        assertEquals(2, ledger.nextOffset(0));
        assertEquals(11, ledger.nextOffset(2));
        assertEquals(0, ledger.nextOffset(1));
        assertEquals(3, ledger.totalTrained());
        OffsetLedger back = OffsetLedger.fromJson(ledger.toJson());
        assertEquals(ledger.nextOffsets(), back.nextOffsets());
        assertEquals(2, back.trainedCount(0));
    }

    @Test
    void trainingAnOffsetTwiceIsRefused() {
        OffsetLedger ledger = new OffsetLedger();
        ledger.recordTrained(1, 5);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ledger.recordTrained(1, 5));
        assertEquals("partition 1: offset 5 was already trained (next expected 6)", e.getMessage());
    }

    @Test
    void offsetsOfAnotherBrokersLogAreDroppedAndItsClusterIdReported() {
        OffsetLedger ledger = new OffsetLedger();
        assertNull(ledger.adoptCluster("A"), "first broker: nothing to report");
        ledger.recordTrained(0, 32);
        OffsetLedger back = OffsetLedger.fromJson(ledger.toJson());
        assertEquals("A", back.clusterId());
        assertNull(back.adoptCluster("A"), "same broker after a restart: offsets kept");
        assertEquals(33, back.nextOffset(0));
        assertEquals("A", back.adoptCluster("B"), "a new broker");
        assertEquals(0, back.nextOffset(0), "its log is read from the start");
        assertEquals(1, back.totalTrained(), "what was trained stays counted");
        back.recordTrained(0, 0); // the new log's first record: no "already trained"
        assertEquals("B", OffsetLedger.fromJson(back.toJson()).clusterId());
        assertNull(OffsetLedger.fromJson(new OffsetLedger().toJson()).clusterId(), "older checkpoints: unknown");
    }
}
