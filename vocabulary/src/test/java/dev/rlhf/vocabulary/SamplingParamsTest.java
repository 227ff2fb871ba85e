package dev.rlhf.vocabulary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class SamplingParamsTest {
    private static final SamplingParams BASE = new SamplingParams(4, 8, 1.0, 1.0, 0, 0, List.of());

    @Test
    void thePromptSeedIsAFixedFunctionOfTheIdSoAReprocessedPromptSamplesTheSameCandidates() {
        // FNV-1a 64 reference values: a JVM or library change must not move the seeds of prompts in flight.
        assertEquals(0xcbf29ce484222325L, SamplingParams.stableHash(""));
        assertEquals(0xaf63dc4c8601ec8cL, SamplingParams.stableHash("a"));
        assertEquals(BASE.forPrompt("prompt-17").seed(), BASE.forPrompt("prompt-17").seed());
        assertEquals(BASE.forPrompt("prompt-17"),
                new SamplingParams(4, 8, 1.0, 1.0, 0, 0, List.of()).forPrompt("prompt-17"));
    }

    @Test
    void differentIdsOrBaseSeedsGiveDifferentSeedsAndTheOtherSettingsStay() {
        SamplingParams a = BASE.forPrompt("prompt-1");
        assertNotEquals(a.seed(), BASE.forPrompt("prompt-2").seed());
        assertNotEquals(a.seed(), BASE.withSeed(1).forPrompt("prompt-1").seed());
        assertEquals(BASE.withSeed(a.seed()), a);
    }
}
