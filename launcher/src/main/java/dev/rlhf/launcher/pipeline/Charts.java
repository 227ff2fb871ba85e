package dev.rlhf.launcher.pipeline;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/** Small PNG charts drawn with Java2D (headless), so reports need no plotting library. */
public final class Charts {
    private Charts() {}

    private static final int W = 720;
    private static final int H = 440;
    private static final int LEFT = 70;
    private static final int RIGHT = 150;
    private static final int TOP = 40;
    private static final int BOTTOM = 50;
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
        new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2)};

    static {
        System.setProperty("java.awt.headless", "true");
    }

    /** Line chart of named (x, y) series; {@code logX} plots x on a log2 axis. */
    public static void line(String title, String xLabel, String yLabel, Map<String, List<double[]>> series,
                            boolean logX, Path png) throws IOException {
        double xMin = Double.POSITIVE_INFINITY;
        double xMax = Double.NEGATIVE_INFINITY;
        double yMin = Double.POSITIVE_INFINITY;
        double yMax = Double.NEGATIVE_INFINITY;
        for (List<double[]> s : series.values()) {
            for (double[] p : s) {
                double x = logX ? log2(p[0]) : p[0];
                if (Double.isFinite(x) && Double.isFinite(p[1])) {
                    xMin = Math.min(xMin, x);
                    xMax = Math.max(xMax, x);
                    yMin = Math.min(yMin, p[1]);
                    yMax = Math.max(yMax, p[1]);
                }
            }
        }
        if (!Double.isFinite(xMin)) {
            xMin = 0;
            xMax = 1;
            yMin = 0;
            yMax = 1;
        }
        if (xMax == xMin) {
            xMax = xMin + 1;
        }
        double pad = (yMax - yMin) * 0.08 + 1e-9;
        yMin -= pad;
        yMax += pad;
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = frame(img, title);
        int plotW = W - LEFT - RIGHT;
        int plotH = H - TOP - BOTTOM;
        for (int i = 0; i <= 4; i++) {
            double y = yMin + (yMax - yMin) * i / 4;
            int py = TOP + plotH - (int) Math.round(plotH * i / 4.0);
            g.setColor(new Color(0xdddddd));
            g.drawLine(LEFT + 1, py, LEFT + plotW - 1, py);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.3f", y), 8, py + 4);
            if (!logX) {
                double x = xMin + (xMax - xMin) * i / 4;
                g.drawString(String.format(Locale.ROOT, "%.0f", x), LEFT + (int) Math.round(plotW * i / 4.0) - 8,
                        TOP + plotH + 16);
            }
        }
        if (logX) { // one label per power of two: 1, 2, 4, ... 64
            for (double e = Math.ceil(xMin); e <= xMax; e++) {
                int px = LEFT + (int) Math.round((e - xMin) / (xMax - xMin) * plotW);
                g.drawString(String.format(Locale.ROOT, "%.0f", Math.pow(2, e)), px - 8, TOP + plotH + 16);
            }
        }
        g.drawString(xLabel, LEFT + plotW / 2 - 40, H - 12);
        g.drawString(yLabel, 8, TOP - 8);
        int k = 0;
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            Color c = PALETTE[k % PALETTE.length];
            g.setColor(c);
            g.setStroke(new BasicStroke(2f));
            int[] prev = null;
            for (double[] p : e.getValue()) {
                double x = logX ? log2(p[0]) : p[0];
                if (!Double.isFinite(x) || !Double.isFinite(p[1])) {
                    continue;
                }
                int px = LEFT + (int) Math.round((x - xMin) / (xMax - xMin) * plotW);
                int py = TOP + plotH - (int) Math.round((p[1] - yMin) / (yMax - yMin) * plotH);
                g.fillOval(px - 3, py - 3, 6, 6);
                if (prev != null) {
                    g.drawLine(prev[0], prev[1], px, py);
                }
                prev = new int[] {px, py};
            }
            legend(g, k, e.getKey(), PALETTE[k % PALETTE.length]);
            k++;
        }
        g.dispose();
        Files.createDirectories(png.toAbsolutePath().getParent());
        ImageIO.write(img, "png", png.toFile());
    }

    /** Bar chart of named values (e.g. accuracy per rating), grouped by series. */
    public static void bars(String title, String yLabel, List<String> categories, Map<String, double[]> series,
                            Path png) throws IOException {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = frame(img, title);
        int plotW = W - LEFT - RIGHT;
        int plotH = H - TOP - BOTTOM;
        for (int i = 0; i <= 4; i++) {
            int py = TOP + plotH - (int) Math.round(plotH * i / 4.0);
            g.drawString(String.format(Locale.ROOT, "%.2f", i / 4.0), 8, py + 4);
        }
        g.drawString(yLabel, 8, TOP - 8);
        int groups = categories.size();
        int perGroup = Math.max(1, series.size());
        double groupW = (double) plotW / groups;
        double barW = groupW * 0.8 / perGroup;
        for (int c = 0; c < groups; c++) {
            g.setColor(Color.BLACK);
            String label = categories.get(c);
            g.drawString(label.length() > 18 ? label.substring(0, 18) : label,
                    LEFT + (int) (c * groupW) + 4, TOP + plotH + 16);
        }
        int k = 0;
        for (Map.Entry<String, double[]> e : series.entrySet()) {
            g.setColor(PALETTE[k % PALETTE.length]);
            for (int c = 0; c < groups && c < e.getValue().length; c++) {
                double v = e.getValue()[c];
                if (!Double.isFinite(v)) {
                    continue;
                }
                int h = (int) Math.round(Math.max(0, Math.min(1, v)) * plotH);
                int x = LEFT + (int) (c * groupW + groupW * 0.1 + k * barW);
                g.fillRect(x, TOP + plotH - h, (int) Math.max(1, barW - 2), h);
            }
            legend(g, k, e.getKey(), PALETTE[k % PALETTE.length]);
            k++;
        }
        g.dispose();
        Files.createDirectories(png.toAbsolutePath().getParent());
        ImageIO.write(img, "png", png.toFile());
    }

    /** White canvas, title, plot frame; returns the graphics with the label font set. */
    private static Graphics2D frame(BufferedImage img, String title) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, LEFT, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawRect(LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
        return g;
    }

    /** Colour swatch and name of series k in the legend. */
    private static void legend(Graphics2D g, int k, String name, Color c) {
        int ly = TOP + 14 + 18 * k;
        g.setColor(c);
        g.fillRect(W - RIGHT + 12, ly - 8, 12, 8);
        g.setColor(Color.BLACK);
        g.drawString(name, W - RIGHT + 30, ly);
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}
