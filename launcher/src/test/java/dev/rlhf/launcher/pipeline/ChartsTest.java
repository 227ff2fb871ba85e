package dev.rlhf.launcher.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartsTest {
    @TempDir
    Path tmp;

    @Test
    void lineAndBarChartsAreReadablePngsWithTheSeriesDrawn() throws Exception {
        Path line = tmp.resolve("line.png");
        Charts.line("t", "x", "y", Map.of("a", List.of(new double[] {1, 0.2}, new double[] {64, 0.9}),
                "empty", List.of()), true, line);
        Path bars = tmp.resolve("bars.png");
        Charts.bars("t", "y", List.of("one", "two"), Map.of("s", new double[] {0.5, Double.NaN}), bars);
        for (Path p : List.of(line, bars)) {
            BufferedImage img = ImageIO.read(p.toFile());
            assertEquals(720, img.getWidth());
            assertEquals(440, img.getHeight());
            int coloured = 0;
            for (int x = 0; x < img.getWidth(); x++) {
                for (int y = 0; y < img.getHeight(); y++) {
                    int rgb = img.getRGB(x, y) & 0xffffff;
                    int r = rgb >> 16;
                    int b = rgb & 0xff;
                    if (Math.abs(r - b) > 60) { // a palette colour, not white/grey/black
                        coloured++;
                    }
                }
            }
            assertNotEquals(0, coloured, p + " has no series drawn");
        }
    }
}
