package dev.rlhf.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GPU checks' dry mode on the CPU: every check runs and records numbers, none an error. */
class GpuChecksTest {
    @TempDir
    Path out;

    @Test
    void theDryRunCompletesEveryCheckWithoutErrors() throws Exception {
        GpuChecks.main(new String[] {"--out", out.toString(), "--dry", "--no-bf16"});
        JsonObject r = JsonParser.parseString(Files.readString(out.resolve("results.json"))).getAsJsonObject();
        assertTrue(r.get("dry").getAsBoolean());
        assertTrue(r.get("bf16").getAsString().startsWith("skipped"), r.toString());
        JsonObject parity = r.getAsJsonObject("parity");
        assertEquals(0.0, parity.get("float32MaxAbsDiff").getAsDouble(), "the same CPU computation twice");
        assertTrue(parity.get("greedyContinuationEqual").getAsBoolean());
        for (String gen : List.of("float32_b1", "float32_b4")) {
            assertTrue(r.getAsJsonObject("generation").getAsJsonObject(gen).get("wallTokPerSec").getAsDouble() > 0,
                    gen);
        }
        JsonObject sft = r.getAsJsonObject("sftStep").getAsJsonObject("float32");
        assertTrue(sft.get("tokPerSec").getAsDouble() > 0 && sft.get("mfuVsBf16Peak").getAsDouble() > 0, sft.toString());
        assertTrue(r.getAsJsonObject("ppoIteration").get("steps").getAsInt() >= 1, r.toString());
        assertTrue(Double.isFinite(r.getAsJsonObject("rewardModelStep").get("loss").getAsDouble()), r.toString());
        assertFalse(r.toString().contains("\"error\""), r.toString());
    }
}
