package dev.rlhf.launcher;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.rlhf.platform.kafka.Topics;
import dev.rlhf.proto.v1.Prompt;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code rlhf prompts ...}: put prompts on Kafka. */
@Command(name = "prompts", mixinStandardHelpOptions = true, description = "Prompt tools.",
        subcommands = {PromptsCommand.Send.class})
final class PromptsCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (send)");
    }

    @Command(name = "send", mixinStandardHelpOptions = true,
            description = {"Publish prompts from a JSONL file to rlhf.prompts (key = id).",
                "Each line: {\"id\": ..., \"text\": ..., \"safety_tagged\": false, \"source\": ...}; \"prompt\" is "
                        + "accepted for \"text\"; a missing id becomes <file name>-<line number>."})
    static final class Send implements Callable<Integer> {
        @Parameters(index = "0", description = "JSONL file of prompts.")
        Path file;

        @Option(names = "--kafka", defaultValue = "127.0.0.1:9092",
                description = "Bootstrap servers (default: ${DEFAULT-VALUE}; `rlhf up` prints its own).")
        String kafka;

        @Override
        public Integer call() throws Exception {
            RecordPublisher.send(kafka, "prompts", Topics.PROMPTS, read(file), Prompt::getId, "prompts");
            return 0;
        }

        static List<Prompt> read(Path file) throws Exception {
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("prompt file not found: " + file);
            }
            List<Prompt> out = new ArrayList<>();
            int n = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                JsonObject o;
                try {
                    o = JsonParser.parseString(line).getAsJsonObject();
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(file + ":" + n + ": not a JSON object");
                }
                String text = o.has("text") ? o.get("text").getAsString()
                        : o.has("prompt") ? o.get("prompt").getAsString() : "";
                if (text.isEmpty()) {
                    throw new IllegalArgumentException(file + ":" + n + ": missing or empty \"text\"");
                }
                out.add(Prompt.newBuilder()
                        .setId(o.has("id") ? o.get("id").getAsString() : file.getFileName() + "-" + n)
                        .setText(text)
                        .setSafetyTagged(o.has("safety_tagged") && o.get("safety_tagged").getAsBoolean())
                        .setSource(o.has("source") ? o.get("source").getAsString() : file.getFileName().toString())
                        .build());
            }
            if (out.isEmpty()) {
                throw new IllegalArgumentException(file + ": no prompts");
            }
            return out;
        }
    }
}
