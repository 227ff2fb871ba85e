package dev.rlhf.k8s;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The stages of k8s/images/Dockerfile: what each is built from, its environment, its copies, its user. */
record Dockerfile(Map<String, String> args, Map<String, Stage> stages) {
    private static final Pattern ARG = Pattern.compile("^ARG\\s+(\\w+)=(\\S+)$");
    private static final Pattern FROM = Pattern.compile("^FROM\\s+(\\S+)(?:\\s+AS\\s+(\\S+))?$",
            Pattern.CASE_INSENSITIVE);
    private static final Pattern ENV_PAIR = Pattern.compile("(\\w+)=(\"[^\"]*\"|\\S+)");

    /** @param from the image or earlier stage it starts from, build arguments resolved */
    record Stage(String name, String from, Map<String, String> env, List<String> copies, String user,
                 String entrypoint) {
    }

    static Dockerfile load(Path file) {
        try {
            return parse(Files.readAllLines(file));
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file + ": " + e, e);
        }
    }

    static Dockerfile parse(List<String> lines) {
        Map<String, String> args = new LinkedHashMap<>();
        Map<String, Stage> stages = new LinkedHashMap<>();
        Stage current = null;
        for (String instruction : instructions(lines)) {
            Matcher arg = ARG.matcher(instruction);
            Matcher from = FROM.matcher(instruction);
            if (current == null && arg.matches()) {
                args.put(arg.group(1), arg.group(2));
            } else if (from.matches()) {
                String image = resolve(from.group(1), args);
                String name = from.group(2) == null ? "stage" + stages.size() : from.group(2);
                current = new Stage(name, image, new LinkedHashMap<>(), new ArrayList<>(), null, null);
                stages.put(name, current);
            } else if (current != null) {
                String keyword = instruction.split("\\s+", 2)[0].toUpperCase();
                String rest = instruction.substring(keyword.length()).strip();
                switch (keyword) {
                    case "ENV" -> {
                        Matcher pair = ENV_PAIR.matcher(rest);
                        while (pair.find()) {
                            current.env().put(pair.group(1), pair.group(2).replace("\"", ""));
                        }
                    }
                    case "COPY" -> current.copies().add(rest);
                    case "USER" -> current = replace(stages, current, rest, current.entrypoint());
                    case "ENTRYPOINT" -> current = replace(stages, current, current.user(), rest);
                    default -> {
                        // RUN, WORKDIR, EXPOSE: nothing the tests look at
                    }
                }
            }
        }
        return new Dockerfile(args, stages);
    }

    /** The environment of a stage, its ancestors' included. */
    Map<String, String> environment(String stage) {
        Stage s = stage(stage);
        Map<String, String> env = stages.containsKey(s.from()) ? environment(s.from()) : new LinkedHashMap<>();
        env.putAll(s.env());
        return env;
    }

    /** The user a stage runs as, inherited from the stage it starts from. */
    String user(String stage) {
        Stage s = stage(stage);
        if (s.user() != null) {
            return s.user();
        }
        return stages.containsKey(s.from()) ? user(s.from()) : null;
    }

    /** The external image a stage finally builds on. */
    String baseImage(String stage) {
        Stage s = stage(stage);
        return stages.containsKey(s.from()) ? baseImage(s.from()) : s.from();
    }

    Stage stage(String name) {
        Stage s = stages.get(name);
        if (s == null) {
            throw new AssertionError("the Dockerfile has no stage " + name + " (stages: " + stages.keySet() + ")");
        }
        return s;
    }

    private static Stage replace(Map<String, Stage> stages, Stage s, String user, String entrypoint) {
        Stage updated = new Stage(s.name(), s.from(), s.env(), s.copies(), user, entrypoint);
        stages.put(s.name(), updated);
        return updated;
    }

    private static String resolve(String text, Map<String, String> args) {
        String out = text;
        for (Map.Entry<String, String> arg : args.entrySet()) {
            out = out.replace("${" + arg.getKey() + "}", arg.getValue()).replace("$" + arg.getKey(), arg.getValue());
        }
        return out;
    }

    /** Joins continuation lines and drops comments and blank lines. */
    private static List<String> instructions(List<String> lines) {
        List<String> out = new ArrayList<>();
        StringBuilder pending = new StringBuilder();
        for (String raw : lines) {
            String line = raw.strip();
            if (line.startsWith("#") || (line.isEmpty() && pending.isEmpty())) {
                continue;
            }
            if (line.endsWith("\\")) {
                pending.append(line, 0, line.length() - 1).append(' ');
            } else {
                pending.append(line);
                out.add(pending.toString().replaceAll("\\s+", " ").strip());
                pending.setLength(0);
            }
        }
        return out;
    }
}
