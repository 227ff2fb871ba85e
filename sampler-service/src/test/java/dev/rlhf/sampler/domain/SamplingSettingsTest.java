package dev.rlhf.sampler.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

class SamplingSettingsTest {
    private static final SamplingSettings BASE = new SamplingSettings(4, 1.0, 1.0, 8, 0);

    @Test
    void thePromptSeedIsAFixedFunctionOfTheIdSoAReprocessedPromptSamplesTheSameCandidates() {
        // FNV-1a 64 reference values: a JVM or library change must not move the seeds of prompts in flight.
        assertEquals(0xcbf29ce484222325L, SamplingSettings.stableHash(""));
        assertEquals(0xaf63dc4c8601ec8cL, SamplingSettings.stableHash("a"));
        assertEquals(BASE.forPrompt("prompt-17").seed(), BASE.forPrompt("prompt-17").seed());
        assertEquals(BASE.forPrompt("prompt-17"), new SamplingSettings(4, 1.0, 1.0, 8, 0).forPrompt("prompt-17"));
    }

    @Test
    void differentIdsOrBaseSeedsGiveDifferentSeedsAndTheOtherSettingsStay() {
        SamplingSettings a = BASE.forPrompt("prompt-1");
        assertNotEquals(a.seed(), BASE.forPrompt("prompt-2").seed());
        assertNotEquals(a.seed(), new SamplingSettings(4, 1.0, 1.0, 8, 1).forPrompt("prompt-1").seed());
        assertEquals(new SamplingSettings(4, 1.0, 1.0, 8, a.seed()), a);
    }
}
