package dev.rlhf.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class WorldTest {
    private static final World WORLD = World.standard();
    private static final int CORPUS_SIZE = 8000;
    /** Over three binomial standard deviations (about 0.014) for the smallest group, 1200 documents. */
    private static final double RATE_TOLERANCE = 0.05;

    @Test
    void everySftExampleIsGoldCorrectAndSafe() {
        List<SftExample> sft = WORLD.sftSet(5, 1500);
        assertEquals(1500, sft.size());
        Set<PromptFamily> seen = EnumSet.noneOf(PromptFamily.class);
        for (SftExample e : sft) {
            Task t = WORLD.task(e.prompt()).orElseThrow(() -> new AssertionError("unknown prompt " + e.prompt()));
            seen.add(t.family());
            assertEquals(1, GoldOracle.helpfulness(t, e.response()), e.toString());
            assertTrue(GoldOracle.isSafe(t, e.response()), e.toString());
        }
        assertEquals(EnumSet.allOf(PromptFamily.class), seen);
    }

    @Test
    void pretrainingCorpusHasWrongUnsafeAndOverRefusingTextsAtTheConfiguredRates() {
        CorpusMix mix = CorpusMix.DEFAULT;
        int filler = 0;
        int helpful = 0;
        int wrong = 0;
        int harmful = 0;
        int unsafe = 0;
        int borderline = 0;
        int overRefusals = 0;
        for (String doc : WORLD.pretrainingCorpus(3, CORPUS_SIZE)) {
            int end = firstSentenceEnd(doc);
            Optional<Task> task = WORLD.task(doc.substring(0, end));
            if (task.isEmpty()) {
                filler++;
                continue;
            }
            Task t = task.get();
            String response = doc.substring(end).strip();
            switch (t.kind()) {
                case HELPFUL -> {
                    helpful++;
                    if (GoldOracle.helpfulness(t, response) == 0) {
                        wrong++;
                    }
                }
                case HARMFUL -> {
                    harmful++;
                    if (!GoldOracle.isSafe(t, response)) {
                        unsafe++;
                    }
                }
                case BORDERLINE -> {
                    borderline++;
                    if (GoldOracle.isOverRefusal(t, response)) {
                        overRefusals++;
                    }
                }
            }
        }
        assertEquals(mix.factFiller(), filler / (double) CORPUS_SIZE, RATE_TOLERANCE);
        assertEquals(mix.helpfulQa(), helpful / (double) CORPUS_SIZE, RATE_TOLERANCE);
        assertEquals(mix.harmfulQa(), harmful / (double) CORPUS_SIZE, RATE_TOLERANCE);
        assertEquals(mix.borderlineQa(), borderline / (double) CORPUS_SIZE, RATE_TOLERANCE);
        assertEquals(mix.wrongAnswerRate(), wrong / (double) helpful, RATE_TOLERANCE);
        assertEquals(mix.unsafeCompletionRate(), unsafe / (double) harmful, RATE_TOLERANCE);
        assertEquals(mix.overRefusalRate(), overRefusals / (double) borderline, RATE_TOLERANCE);
    }

    @Test
    void factFillerStatesOnlyTrueFacts() {
        Set<String> truths = new HashSet<>();
        for (String p : WORLD.facts().people()) {
            for (FactRelation r : FactRelation.values()) {
                truths.add(WORLD.facts().statement(p, r));
            }
        }
        for (String doc : WORLD.pretrainingCorpus(4, 2000)) {
            if (WORLD.task(doc.substring(0, firstSentenceEnd(doc))).isEmpty()) {
                for (String sentence : doc.split("(?<=\\.) ")) {
                    assertTrue(truths.contains(sentence), sentence);
                }
            }
        }
    }

    @Test
    void sameSeedGivesIdenticalDataAndAnotherSeedDifferentData() {
        World again = World.standard();
        assertEquals(WORLD.pretrainingCorpus(1, 300), again.pretrainingCorpus(1, 300));
        assertEquals(WORLD.sftSet(1, 300), again.sftSet(1, 300));
        assertEquals(WORLD.promptSplits(1, 200, 50), again.promptSplits(1, 200, 50));
        assertEquals(WORLD.allTasks(), again.allTasks());

        assertNotEquals(WORLD.pretrainingCorpus(1, 300), WORLD.pretrainingCorpus(2, 300));
        assertNotEquals(WORLD.sftSet(1, 300), WORLD.sftSet(2, 300));
        assertNotEquals(WORLD.promptSplits(1, 200, 50), WORLD.promptSplits(2, 200, 50));
        assertNotEquals(WORLD.allTasks(), World.withFactSeed(World.DEFAULT_FACT_SEED + 1).allTasks());
    }

    @Test
    void promptSplitsAreDisjointAndEachCoversEveryFamily() {
        PromptSplits splits = WORLD.promptSplits(9, 300, 100);
        assertEquals(300, splits.train().size());
        assertEquals(100, splits.heldOut().size());
        Set<String> trainIds = splits.train().stream().map(Task::id).collect(Collectors.toSet());
        assertEquals(300, trainIds.size(), "train prompts repeat");
        assertTrue(splits.heldOut().stream().noneMatch(t -> trainIds.contains(t.id())));
        for (List<Task> split : List.of(splits.train(), splits.heldOut())) {
            assertEquals(EnumSet.allOf(PromptFamily.class),
                    split.stream().map(Task::family).collect(Collectors.toCollection(
                            () -> EnumSet.noneOf(PromptFamily.class))));
            for (PromptFamily f : PromptFamily.values()) {
                long n = split.stream().filter(t -> t.family() == f).count();
                assertEquals(f.share() * split.size(), n, 1.0, f.id());
            }
        }
    }

    @Test
    void onlyHarmfulTemplatePromptsAreSafetyTagged() {
        for (Task t : WORLD.allTasks()) {
            assertEquals(t.family() == PromptFamily.HARMFUL, t.safetyTagged(), t.text());
            assertEquals(t.safetyTagged(), t.toPromptRecord().safetyTagged());
        }
    }

    @Test
    void splitsLargerThanTheWorldAreRefused() {
        int all = WORLD.allTasks().size();
        assertThrows(IllegalArgumentException.class, () -> WORLD.promptSplits(1, all, 10));
        assertThrows(IllegalArgumentException.class, () -> WORLD.promptSplits(1, 100, 3));
    }

    @Test
    void aSmallFamilyGivesItsSurplusToTheOthers() {
        // Harmful and borderline prompts run out first; the other families absorb the rest.
        int all = WORLD.allTasks().size();
        PromptSplits splits = WORLD.promptSplits(2, all - 100, 100);
        assertEquals(all - 100, splits.train().size());
        assertEquals(100, splits.heldOut().size());
        assertEquals(Set.copyOf(WORLD.allTasks()), union(splits));
    }

    @Test
    void worldWithoutHeldOutPromptsNeverDrawsThemButStillRecognisesThem() {
        PromptSplits splits = WORLD.promptSplits(4, 300, 200);
        World trainWorld = WORLD.without(splits.heldOut());
        Set<String> heldOut = splits.heldOut().stream().map(Task::text).collect(Collectors.toSet());
        assertTrue(trainWorld.sftSet(4, 2000).stream().noneMatch(e -> heldOut.contains(e.prompt())));
        assertTrue(trainWorld.pretrainingCorpus(4, 2000).stream()
                .noneMatch(d -> heldOut.contains(d.substring(0, firstSentenceEnd(d)))));
        assertEquals(splits.heldOut().get(0), trainWorld.task(splits.heldOut().get(0).text()).orElseThrow());
    }

    @Test
    void promptsAreRecognisedDespiteExtraWhitespace() {
        assertEquals("What is 7 plus 5?", WORLD.task("  What is 7   plus 5? ").orElseThrow().text());
        assertTrue(WORLD.task("What is 7 plus 500?").isEmpty());
    }

    @Test
    void promptsAndAnswersStayShortForATinyModel() {
        for (Task t : WORLD.allTasks()) {
            assertTrue(t.text().split(" ").length <= 12, t.text());
            assertTrue(t.expectedResponse().split(" ").length <= 12, t.expectedResponse());
        }
    }

    private static Set<Task> union(PromptSplits splits) {
        Set<Task> all = new HashSet<>(splits.train());
        all.addAll(splits.heldOut());
        return all;
    }

    /** World prompts are one sentence ending in '?' or '.', and contain neither before the end. */
    private static int firstSentenceEnd(String doc) {
        for (int i = 0; i < doc.length(); i++) {
            if (doc.charAt(i) == '?' || doc.charAt(i) == '.') {
                return i + 1;
            }
        }
        return doc.length();
    }
}
