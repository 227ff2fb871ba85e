package dev.rlhf.world;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** JSON Lines reading and writing, with every data error reported as {@code file:line: reason}. */
public final class Jsonl {
    private Jsonl() {}

    // Without this Gson writes ' as \u0027, which is valid but unreadable in the data files.
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** One parsed line, with accessors that fail naming the file and line. */
    public record Line(Path file, int number, JsonObject json) {
        public IllegalArgumentException error(String reason) {
            return new IllegalArgumentException(file + ":" + number + ": " + reason);
        }

        public boolean has(String key) {
            return json.has(key) && !json.get(key).isJsonNull();
        }

        public String string(String key) {
            if (!has(key)) {
                throw error("missing field \"" + key + "\"");
            }
            JsonElement e = json.get(key);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                throw error("field \"" + key + "\" must be a string");
            }
            return e.getAsString();
        }

        public String string(String key, String absent) {
            return has(key) ? string(key) : absent;
        }

        public boolean bool(String key, boolean absent) {
            if (!has(key)) {
                return absent;
            }
            JsonElement e = json.get(key);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                throw error("field \"" + key + "\" must be true or false");
            }
            return e.getAsBoolean();
        }
    }

    /** Parses every non-blank line of a UTF-8 file; blank lines are skipped, an empty file gives an empty list. */
    public static <T> List<T> read(Path file, Function<Line, T> parser) throws IOException {
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        List<T> out = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(Files.newInputStream(file), decoder))) {
            String text;
            int number = 0;
            while ((text = reader.readLine()) != null) {
                number++;
                if (text.isBlank()) {
                    continue;
                }
                JsonObject json;
                try {
                    JsonElement e = JsonParser.parseString(text);
                    if (!e.isJsonObject()) {
                        throw new IllegalStateException("not an object");
                    }
                    json = e.getAsJsonObject();
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(file + ":" + number + ": not a JSON object");
                }
                out.add(parser.apply(new Line(file, number, json)));
            }
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not valid UTF-8", e);
        }
        return out;
    }

    /** Writes one compact JSON object per line, creating parent directories. */
    public static void write(Path file, List<JsonObject> rows) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (JsonObject row : rows) {
                w.write(GSON.toJson(row));
                w.write('\n');
            }
        }
    }
}
