package dev.rlhf.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.rlhf.platform.config.ConfigKey;
import dev.rlhf.platform.config.ConfigSchema;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/configuration.md lists exactly the keys the services read, each with its environment variable. */
class ConfigDocTest {
    private static final Pattern DOCUMENTED = Pattern.compile("^  ([a-z0-9.-]+)  \\((RLHF_[A-Z0-9_]+)\\)$",
            Pattern.MULTILINE);

    @Test
    void theConfigurationPageMatchesTheSchemas() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "configuration.md"));
        Set<String> documented = new TreeSet<>();
        Matcher m = DOCUMENTED.matcher(doc);
        while (m.find()) {
            documented.add(m.group(1) + " " + m.group(2));
        }
        Set<String> read = new TreeSet<>();
        for (ConfigSchema schema : ConfigCommand.schemas()) {
            for (ConfigKey<?> key : schema.keys()) {
                read.add(key.name() + " " + key.envVar());
            }
        }
        assertEquals(read, documented, "regenerate with: ./rlhf config (see docs/configuration.md)");
    }
}
