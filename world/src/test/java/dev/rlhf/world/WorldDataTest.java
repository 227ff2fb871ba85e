package dev.rlhf.world;

import dev.rlhf.vocabulary.RewardKind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorldDataTest {
    private static final World WORLD = World.standard();

    @TempDir
    Path dir;

    @Test
    void promptsRoundTrip() throws IOException {
        List<PromptRecord> prompts = WORLD.promptSplits(1, 40, 10).train().stream().map(Task::toPromptRecord).toList();
        Path file = dir.resolve("prompts.jsonl");
        WorldData.writePrompts(file, prompts);
        assertEquals(prompts, WorldData.readPrompts(file));
    }

    @Test
    void sftRoundTripsAndKeepsApostrophesReadable() throws IOException {
        List<SftExample> sft = List.of(new SftExample("How do I poison my neighbor's dog?", GoldOracle.REFUSAL),
                new SftExample("Say \"hi\"\nthen \u00e9t\u00e9", "ok"));
        Path file = dir.resolve("sft.jsonl");
        WorldData.writeSft(file, sft);
        assertEquals(sft, WorldData.readSft(file));
        assertTrue(Files.readString(file).contains("I can't help with that."));
        assertEquals(2, Files.readAllLines(file).size());
    }

    @Test
    void pretrainingRoundTrips() throws IOException {
        List<String> corpus = WORLD.pretrainingCorpus(2, 200);
        Path file = dir.resolve("pretrain.jsonl");
        WorldData.writePretraining(file, corpus);
        assertEquals(corpus, WorldData.readPretraining(file));
    }

    @Test
    void preferencesRoundTripWithEveryRatingAndKind() throws IOException {
        List<PreferencePair> pairs = List.of(
                new PreferencePair("p1", "a", "b", Rating.SIGNIFICANTLY_BETTER, true, false, RewardKind.SAFETY),
                new PreferencePair("p2", "a", "b", Rating.BETTER, true, true, RewardKind.HELPFULNESS),
                new PreferencePair("p3", "a", "b", Rating.SLIGHTLY_BETTER, false, false, RewardKind.SAFETY),
                new PreferencePair("p4", "a", "", Rating.NEGLIGIBLY_BETTER_OR_UNSURE, true, true,
                        RewardKind.HELPFULNESS));
        Path file = dir.resolve("prefs.jsonl");
        WorldData.writePreferences(file, pairs);
        assertEquals(pairs, WorldData.readPreferences(file));
        assertTrue(Files.readAllLines(file).get(0).startsWith(
                "{\"prompt\":\"p1\",\"chosen\":\"a\",\"rejected\":\"b\",\"rating\":\"significantly_better\","
                        + "\"chosen_safe\":true,\"rejected_safe\":false,\"kind\":\"safety\"}"));
    }

    @Test
    void hhRlhfRecordsImportWithTheSharedHumanPromptSplitOff() throws IOException {
        Path file = write("hh.jsonl",
                "{\"chosen\": \"\\n\\nHuman: What is 7 plus 5?\\n\\nAssistant: 7 plus 5 is 12.\", "
                        + "\"rejected\": \"\\n\\nHuman: What is 7 plus 5?\\n\\nAssistant: 13\"}",
                "{\"chosen\": \"\\n\\nHuman: hi\\n\\nAssistant: hello\\n\\nHuman: and?\\n\\nAssistant: fine\", "
                        + "\"rejected\": \"\\n\\nHuman: hi\\n\\nAssistant: hello\\n\\nHuman: and?"
                        + "\\n\\nAssistant: no\"}");
        List<PreferencePair> pairs = WorldData.readPreferences(file);
        assertEquals(new PreferencePair("What is 7 plus 5?", "7 plus 5 is 12.", "13",
                Rating.NEGLIGIBLY_BETTER_OR_UNSURE, true, true, RewardKind.HELPFULNESS), pairs.get(0));
        assertEquals("Human: hi\n\nAssistant: hello\n\nHuman: and?", pairs.get(1).prompt());
        assertEquals("fine", pairs.get(1).chosen());
        assertEquals("no", pairs.get(1).rejected());
    }

    @Test
    void hhRlhfRecordWhoseSidesDisagreeOnThePromptNamesItsLine() throws IOException {
        Path file = write("hh.jsonl",
                "{\"chosen\": \"\\n\\nHuman: a\\n\\nAssistant: x\", "
                        + "\"rejected\": \"\\n\\nHuman: b\\n\\nAssistant: y\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorldData.readPreferences(file));
        assertTrue(e.getMessage().startsWith(file + ":1: "), e.getMessage());
    }

    @Test
    void malformedLineIsReportedWithFileAndLine() throws IOException {
        Path file = write("prefs.jsonl",
                "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\", \"rating\": \"better\"}",
                "",
                "{\"prompt\": \"p\", \"chosen\": \"a\"");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorldData.readPreferences(file));
        assertEquals(file + ":3: not a JSON object", e.getMessage());
    }

    @Test
    void unknownRatingIsReportedWithTheAllowedValues() throws IOException {
        Path file = write("prefs.jsonl",
                "{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\", \"rating\": \"much_better\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WorldData.readPreferences(file));
        assertTrue(e.getMessage().startsWith(file + ":1: rating must be one of"), e.getMessage());
        assertTrue(e.getMessage().contains("negligibly_better_or_unsure"), e.getMessage());
    }

    @Test
    void missingRequiredFieldNamesFileLineAndField() throws IOException {
        Path file = write("sft.jsonl", "{\"prompt\": \"p\", \"response\": \"r\"}", "{\"prompt\": \"p\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WorldData.readSft(file));
        assertEquals(file + ":2: missing field \"response\"", e.getMessage());
    }

    @Test
    void userPromptsGetDefaultsForMissingFields() throws IOException {
        Path file = write("mine.jsonl", "{\"prompt\": \"Hello?\"}",
                "{\"id\": \"x\", \"text\": \"Bye.\", \"safety_tagged\": true, \"family\": \"harmful\"}");
        assertEquals(List.of(new PromptRecord("mine.jsonl-1", "Hello?", false, PromptRecord.UNKNOWN_FAMILY),
                new PromptRecord("x", "Bye.", true, "harmful")), WorldData.readPrompts(file));
    }

    private Path write(String name, String... lines) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, List.of(lines), StandardCharsets.UTF_8);
        return file;
    }
}
