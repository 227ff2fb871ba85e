package dev.rlhf.launcher.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DemoPipelineTest {
    @Test
    void namedSeedsAreStableDistinctAndFollowTheirOwnSeed() {
        DemoPipeline.Seeds seeds = new DemoPipeline.Seeds(1, 1, 0);
        List<String> draws = List.of("demonstrations", "sft", "preference-prompts", "preferences",
                "safety-preferences", "held-out-preferences", "reward-models", "evaluation", "sweep",
                "rejection-sampling", "rl-prompts", "rl-shuffles", "validation-diagnostic");
        Set<Long> values = new HashSet<>();
        for (String d : draws) {
            values.add(seeds.of(d));
            assertEquals(seeds.of(d), new DemoPipeline.Seeds(1, 7, 3).of(d), "fine-tuning draws ignore the base seed");
            assertNotEquals(seeds.of(d), new DemoPipeline.Seeds(2, 1, 0).of(d), d + " follows --seed");
        }
        assertEquals(draws.size(), values.size(), "every draw has its own seed");
        // Base-model draws follow --base-seed only, and differ from a fine-tuning draw of the same name.
        assertEquals(seeds.ofBase("corpus"), new DemoPipeline.Seeds(9, 1, 0).ofBase("corpus"));
        assertNotEquals(seeds.ofBase("corpus"), new DemoPipeline.Seeds(1, 2, 0).ofBase("corpus"));
    }

    @Test
    void stagesHaveUniqueNamesInTheReportsOrder() {
        List<String> names = DemoPipeline.stages().stream().map(DemoPipeline.Stage::name).toList();
        assertEquals(List.of("tokenizer", "pretrain", "sft", "preferences", "reward_models", "sweep", "rs", "ppo",
                "grpo"), names);
    }
}
