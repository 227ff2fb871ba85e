package dev.rlhf.llama.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class AdaptiveKlControllerTest {
    /**
     * Target 6 nats, horizon 10,000, batches of 256: KL 9 is 50% over, clipped to +20%, so beta x (1 + 0.2 x 0.0256)
     * = 0.1 x 1.00512; KL 6.6 is 10% over: x 1.00256; KL 3 is clipped to -20%: x 0.99488; NaN changes nothing.
     */
    @Test
    void betaMovesByTheClippedProportionalErrorScaledByTheBatchOverTheHorizon() {
        AdaptiveKlController c = new AdaptiveKlController(0.1, 6, 10_000);
        assertEquals(0.1 * 1.00512, c.update(9, 256), 1e-15);
        assertEquals(0.1 * 1.00512 * 1.00256, c.update(6.6, 256), 1e-15);
        assertEquals(0.1 * 1.00512 * 1.00256 * 0.99488, c.update(3, 256), 1e-15);
        assertEquals(c.beta(), c.update(Double.NaN, 256), 0);
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveKlController(0.1, 0, 10_000));
    }
}
