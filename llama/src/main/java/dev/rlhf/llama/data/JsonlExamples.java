package dev.rlhf.llama.data;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads training data from JSON Lines: {@code {"text": ...}} for pre-training and
 * {@code {"prompt": ..., "response": ...}} for SFT. Blank lines are skipped; anything else that is not one
 * of these shapes fails with the file name and line number.
 */
public final class JsonlExamples {
    private JsonlExamples() {}

    /** One record: prompt is null for plain text. */
    public record TextExample(String prompt, String response) {
        public boolean isPlainText() {
            return prompt == null;
        }
    }

    public static List<TextExample> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("data file not found: " + file);
        }
        List<TextExample> out = new ArrayList<>();
        var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try (BufferedReader reader = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(file),
                decoder))) {
            String line;
            int lineNo = 0;
            while ((line = reader.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                out.add(parse(line, file, lineNo));
            }
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(file + ": not valid UTF-8", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no records");
        }
        return out;
    }

    static TextExample parse(String line, Path file, int lineNo) {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(line);
            o = e.getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ":" + lineNo + ": not a JSON object");
        }
        if (o.has("text")) {
            return new TextExample(null, string(o, "text", file, lineNo));
        }
        if (o.has("prompt") && o.has("response")) {
            String prompt = string(o, "prompt", file, lineNo);
            if (prompt.isEmpty()) {
                throw new IllegalArgumentException(file + ":" + lineNo + ": empty prompt");
            }
            return new TextExample(prompt, string(o, "response", file, lineNo));
        }
        throw new IllegalArgumentException(file + ":" + lineNo
                + ": expected {\"text\": ...} or {\"prompt\": ..., \"response\": ...}");
    }

    private static String string(JsonObject o, String key, Path file, int lineNo) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(file + ":" + lineNo + ": field \"" + key + "\" must be a string");
        }
        return e.getAsString();
    }
}
