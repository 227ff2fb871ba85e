package dev.rlhf.world;

import dev.rlhf.vocabulary.RewardKind;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Import and export of the world's data sets as JSON Lines, in the formats of {@code world/README.md}, so that
 * users can swap in real prompts, demonstrations and preferences.
 */
public final class WorldData {
    private WorldData() {}

    /** HH-RLHF (Anthropic) turn markers: each side is a whole dialogue that ends in the assistant's response. */
    static final String HH_HUMAN = "\n\nHuman:";
    static final String HH_ASSISTANT = "\n\nAssistant:";

    // ---- prompts: {"id", "text", "safety_tagged", "family"}

    public static void writePrompts(Path file, List<PromptRecord> prompts) throws IOException {
        Jsonl.write(file, prompts.stream().map(p -> {
            JsonObject o = new JsonObject();
            o.addProperty("id", p.id());
            o.addProperty("text", p.text());
            o.addProperty("safety_tagged", p.safetyTagged());
            o.addProperty("family", p.family());
            return o;
        }).toList());
    }

    /**
     * Reads prompts; as in {@code rlhf prompts send}, {@code "prompt"} is accepted for {@code "text"}, a missing id
     * becomes {@code <file name>-<line>}, {@code safety_tagged} defaults to false and {@code family} to
     * {@value PromptRecord#UNKNOWN_FAMILY}.
     */
    public static List<PromptRecord> readPrompts(Path file) throws IOException {
        return Jsonl.read(file, line -> {
            String text = line.has("text") ? line.string("text") : line.string("prompt");
            if (text.isBlank()) {
                throw line.error("empty prompt text");
            }
            String id = line.string("id", file.getFileName() + "-" + line.number());
            return new PromptRecord(id, text, line.bool("safety_tagged", false),
                    line.string("family", PromptRecord.UNKNOWN_FAMILY));
        });
    }

    // ---- SFT: {"prompt", "response"}

    public static void writeSft(Path file, List<SftExample> examples) throws IOException {
        Jsonl.write(file, examples.stream().map(e -> {
            JsonObject o = new JsonObject();
            o.addProperty("prompt", e.prompt());
            o.addProperty("response", e.response());
            return o;
        }).toList());
    }

    public static List<SftExample> readSft(Path file) throws IOException {
        return Jsonl.read(file, line -> {
            String prompt = line.string("prompt");
            if (prompt.isBlank()) {
                throw line.error("empty prompt");
            }
            return new SftExample(prompt, line.string("response"));
        });
    }

    // ---- pre-training: {"text"}

    public static void writePretraining(Path file, List<String> texts) throws IOException {
        Jsonl.write(file, texts.stream().map(t -> {
            JsonObject o = new JsonObject();
            o.addProperty("text", t);
            return o;
        }).toList());
    }

    public static List<String> readPretraining(Path file) throws IOException {
        return Jsonl.read(file, line -> line.string("text"));
    }

    // ---- preferences: {"prompt", "chosen", "rejected", "rating", "chosen_safe", "rejected_safe", "kind"}

    public static void writePreferences(Path file, List<PreferencePair> pairs) throws IOException {
        Jsonl.write(file, pairs.stream().map(p -> {
            JsonObject o = new JsonObject();
            o.addProperty("prompt", p.prompt());
            o.addProperty("chosen", p.chosen());
            o.addProperty("rejected", p.rejected());
            o.addProperty("rating", p.rating().key());
            o.addProperty("chosen_safe", p.chosenSafe());
            o.addProperty("rejected_safe", p.rejectedSafe());
            o.addProperty("kind", p.kind().key());
            return o;
        }).toList());
    }

    /**
     * Reads preference pairs; each line is either our format (missing rating: unsure; missing safety labels: safe;
     * missing kind: helpfulness) or HH-RLHF's {@code {"chosen": "\n\nHuman: ...\n\nAssistant: ...", "rejected": ...}},
     * whose shared dialogue becomes the prompt, with rating unsure, both responses safe (unknown) and kind
     * helpfulness unless the line has a {@code "kind"}.
     */
    public static List<PreferencePair> readPreferences(Path file) throws IOException {
        return Jsonl.read(file, line -> {
            RewardKind kind = line.has("kind")
                    ? RewardKind.find(line.string("kind")).orElseThrow(() -> line.error(
                            "kind must be one of " + Arrays.stream(RewardKind.values())
                                    .map(RewardKind::key).toList() + ", got \"" + line.string("kind") + "\""))
                    : RewardKind.HELPFULNESS;
            if (!line.has("prompt")) {
                if (line.has("chosen") && line.has("rejected")) {
                    return fromHhRlhf(line, kind);
                }
                throw line.error("expected {\"prompt\", \"chosen\", \"rejected\", ...} or HH-RLHF "
                        + "{\"chosen\", \"rejected\"}");
            }
            String prompt = line.string("prompt");
            if (prompt.isBlank()) {
                throw line.error("empty prompt");
            }
            Rating rating = line.has("rating")
                    ? Rating.parse(line.string("rating")).orElseThrow(() -> line.error(
                            "rating must be one of " + Arrays.stream(Rating.values()).map(Rating::key).toList()
                                    + ", got \"" + line.string("rating") + "\""))
                    : Rating.NEGLIGIBLY_BETTER_OR_UNSURE;
            return new PreferencePair(prompt, line.string("chosen"), line.string("rejected"), rating,
                    line.bool("chosen_safe", true), line.bool("rejected_safe", true), kind);
        });
    }

    private static PreferencePair fromHhRlhf(Jsonl.Line line, RewardKind kind) {
        String chosen = dialogue(line.string("chosen"));
        String rejected = dialogue(line.string("rejected"));
        int c = chosen.lastIndexOf(HH_ASSISTANT);
        int r = rejected.lastIndexOf(HH_ASSISTANT);
        if (c < 0 || r < 0) {
            throw line.error("HH-RLHF record without an \"Assistant:\" turn");
        }
        String context = chosen.substring(0, c);
        if (!context.equals(rejected.substring(0, r))) {
            throw line.error("HH-RLHF chosen and rejected do not share the same human prompt");
        }
        String prompt = prompt(context);
        if (prompt.isBlank()) {
            throw line.error("HH-RLHF record with an empty human prompt");
        }
        return new PreferencePair(prompt, chosen.substring(c + HH_ASSISTANT.length()).strip(),
                rejected.substring(r + HH_ASSISTANT.length()).strip(), Rating.NEGLIGIBLY_BETTER_OR_UNSURE, true, true,
                kind);
    }

    /** Some dumps drop the leading blank line before the first "Human:". */
    private static String dialogue(String s) {
        return s.startsWith("Human:") ? "\n\n" + s : s;
    }

    /** A single human turn becomes plain prompt text; a longer dialogue is kept whole, markers included. */
    private static String prompt(String context) {
        boolean singleTurn = context.startsWith(HH_HUMAN) && context.indexOf(HH_HUMAN, 1) < 0
                && !context.contains(HH_ASSISTANT);
        return singleTurn ? context.substring(HH_HUMAN.length()).strip() : context.strip();
    }
}
