package dev.rlhf.launcher.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.rl.RankingLoss;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DemoSettingsTest {
    @Test
    void overridesReplaceOnlyTheNamedFields() {
        DemoSettings base = DemoSettings.quick();
        DemoSettings s = base.with(Map.of("pretrainSteps", "5", "rsTemperature", "1.25", "margin", "large",
                "architecture", "small"));
        assertEquals(5, s.pretrainSteps());
        assertEquals(1.25, s.rsTemperature());
        assertEquals(RankingLoss.Margin.LARGE, s.margin());
        assertEquals("small", s.architecture());
        assertEquals(base.sftSteps(), s.sftSteps());
        assertEquals(base, base.with(Map.of()));
    }

    @Test
    void unknownNamesAndBadValuesAreRejectedByName() {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> DemoSettings.quick().with(Map.of("pretrainStep", "5")));
        assertTrue(unknown.getMessage().contains("[pretrainStep]"), unknown.getMessage());
        assertTrue(unknown.getMessage().contains("pretrainSteps"), "lists the known names: " + unknown.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> DemoSettings.quick().with(Map.of("sftSteps", "many")));
        assertTrue(bad.getMessage().contains("sftSteps") && bad.getMessage().contains("many"), bad.getMessage());
        IllegalArgumentException group = assertThrows(IllegalArgumentException.class,
                () -> DemoSettings.quick().with(Map.of("grpoSamplesPerPrompt", "1")));
        assertTrue(group.getMessage().contains("grpoSamplesPerPrompt (1) must be at least 2"), group.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DemoSettings.quick().with(Map.of("ppoSamplesPerPrompt",
                "5")), "64 rollouts do not split into groups of 5");
    }
}
