package dev.rlhf.k8s;

import static dev.rlhf.k8s.Sources.CONFIG;
import static dev.rlhf.k8s.Workload.Containers.WITH_INIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * k8s/README.md documents the configuration keys the manifests set: the same keys for the same services as the
 * rendered variants, each a key that service reads according to docs/configuration.md.
 */
class ReadmeKeysTest {
    private static final String SECTION = "## Configuration keys the manifests set";
    private static final Pattern ROW = Pattern.compile("^\\| `([a-z0-9.-]+)` \\| `(RLHF_[A-Z0-9_]+)` \\| ([a-z, ]+) \\|");

    /** "service key" pairs from the README table. */
    static Set<String> documented(List<String> readme) {
        int start = readme.indexOf(SECTION);
        assertTrue(start >= 0, "k8s/README.md lost its section '" + SECTION + "'");
        Set<String> pairs = new TreeSet<>();
        for (String line : readme.subList(start + 1, readme.size())) {
            if (line.startsWith("## ")) {
                break;
            }
            Matcher row = ROW.matcher(line);
            if (!row.find()) {
                continue;
            }
            for (String service : row.group(3).split(",")) {
                ConfigDoc.Key key = CONFIG.key(service.strip(), row.group(2)).orElseThrow(() -> new AssertionError(
                        "README: " + service.strip() + " reads no " + row.group(2)));
                assertEquals(row.group(1), key.name(), "README: " + row.group(2) + " is the variable of " + key.name());
                pairs.add(service.strip() + " " + key.name());
            }
        }
        return pairs;
    }

    /** "service key" pairs the rendered variants set, over all of them. */
    static Set<String> rendered() {
        Set<String> pairs = new TreeSet<>();
        for (Rendered r : Variants.all()) {
            for (ServiceContainer s : ServiceContainer.of(r, WITH_INIT, CONFIG.services()::contains)) {
                List<String> problems = new ArrayList<>();
                for (String var : ServiceConfig.environment(r, s.workload(), s.container(), problems).keySet()) {
                    CONFIG.key(s.program(), var).ifPresent(key -> pairs.add(s.program() + " " + key.name()));
                }
                assertEquals(List.of(), problems);
            }
        }
        return pairs;
    }

    @Test
    void theReadmeTableListsExactlyTheKeysTheManifestsSet() throws IOException {
        List<String> readme = Files.readAllLines(Variants.MODULE.resolve("README.md"));
        Set<String> rendered = rendered();
        assertTrue(rendered.size() > 20, rendered.toString());
        assertEquals(rendered, documented(readme), "update the table in k8s/README.md, '" + SECTION + "'");
    }

    @Test
    void aKeyMissingFromTheTableOrNotReadByTheServiceIsCaught() {
        List<String> table = List.of(SECTION, "| key | variable | services |", "|---|---|---|",
                "| `sampler.n` | `RLHF_SAMPLER_N` | sampler | `4` | best of N |");
        assertEquals(Set.of("sampler sampler.n"), documented(table));
        assertNotEquals(rendered(), documented(table), "a table of one key cannot match the manifests");
        List<String> wrong = List.of(SECTION, "| `sampler.n` | `RLHF_SAMPLER_N` | policy | `4` | |");
        AssertionError error = assertThrows(AssertionError.class, () -> documented(wrong));
        assertTrue(error.getMessage().contains("policy reads no RLHF_SAMPLER_N"), error.getMessage());
    }
}
