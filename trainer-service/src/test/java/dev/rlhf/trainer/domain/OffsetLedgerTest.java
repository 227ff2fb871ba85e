package dev.rlhf.trainer.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
