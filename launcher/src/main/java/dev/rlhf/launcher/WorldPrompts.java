package dev.rlhf.launcher;

import dev.rlhf.world.PromptRecord;
import dev.rlhf.world.Task;
import dev.rlhf.world.World;
import dev.rlhf.world.WorldData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Prompt files for the RL commands, resolved against the synthetic world: the stages grade with the world's gold
 * oracles, so every prompt must be one of its tasks (JSONL {"id", "text", "safety_tagged", "family"}).
 */
final class WorldPrompts {
    private WorldPrompts() {}

    static List<Task> read(Path file) throws IOException {
        World world = World.standard();
        List<Task> tasks = new ArrayList<>();
        int line = 0;
        for (PromptRecord r : WorldData.readPrompts(file)) {
            line++;
            final int n = line;
            tasks.add(world.task(r.text()).orElseThrow(() -> new IllegalArgumentException(file + ": prompt " + n
                    + " (\"" + r.text() + "\") is not a prompt of the synthetic world; these commands grade with its "
                    + "gold oracles")));
        }
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException(file + ": no prompts");
        }
        return tasks;
    }
}
