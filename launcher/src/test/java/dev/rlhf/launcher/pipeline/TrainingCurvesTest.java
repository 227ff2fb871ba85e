package dev.rlhf.launcher.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.rlhf.llama.train.ScalarLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingCurvesTest {
    @TempDir
    Path run;

    @Test
    void plotsComeFromTheRunsLogsBestSamplesAndGradedSamples() throws Exception {
        try (ScalarLog log = ScalarLog.open(run.resolve("tensorboard/sft"))) {
            log.write(1, Map.of("loss", 2.0));
            log.write(2, Map.of("loss", 1.5, "lr", 1e-3));
        }
        Files.writeString(run.resolve("samples-sft.jsonl"), """
                {"rm_helpfulness": 0.05}
                {"rm_helpfulness": 0.15}
                {"rm_helpfulness": 0.19}
                {"rm_helpfulness": 1.0}
                """);
        Files.createDirectories(run.resolve("cluster"));
        Files.writeString(run.resolve("cluster/best-samples.jsonl"), """
                {"id": "rs1-a", "combined": 0.5}
                {"id": "rs1-b", "combined": 0.7}
                {"id": "rs2-a", "combined": 0.9}
                """);
        List<String> written = TrainingCurves.write(run, List.of("sft", "rs"));
        assertEquals(List.of(TrainingCurves.LOSSES, TrainingCurves.RS_REWARD, TrainingCurves.RM_SHIFT), written);
        for (String png : written) {
            assertTrue(ImageIO.read(run.resolve(png).toFile()).getWidth() > 0, png);
        }
        List<double[]> loss = TrainingCurves.scalar(run.resolve("tensorboard/sft/scalars.jsonl"), "loss");
        assertArrayEquals(new double[] {2, 1.5}, loss.stream().mapToDouble(p -> p[1]).toArray());
        // Bins of width 0.1: one sample in [0, 0.1), two in [0.1, 0.2), 1.0 falls in the last bin.
        assertArrayEquals(new double[] {0.25, 0.5, 0, 0, 0, 0, 0, 0, 0, 0.25},
                TrainingCurves.histogram(run.resolve("samples-sft.jsonl"), "rm_helpfulness"), 1e-12);
        assertEquals(null, TrainingCurves.histogram(run.resolve("samples-rs.jsonl"), "rm_helpfulness"));
    }
}
