package dev.rlhf.launcher;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress display on stderr: count/total, percentage, rate, ETA and a status text. Redraws in
 * place on a terminal (at most 10 times a second); otherwise prints a line every 10% so logs stay short.
 */
public final class ProgressBar implements AutoCloseable {
    private final PrintStream out;
    private final String label;
    private final long total;
    private final String unit;
    private final boolean terminal;
    private final long startNanos = System.nanoTime();
    private long lastDraw;
    private int lastDecile = -1;
    private long current;
    private String status = "";

    public ProgressBar(String label, long total, String unit) {
        this(System.err, label, total, unit, System.console() != null);
    }

    ProgressBar(PrintStream out, String label, long total, String unit, boolean terminal) {
        this.out = out;
        this.label = label;
        this.total = Math.max(1, total);
        this.unit = unit;
        this.terminal = terminal;
    }

    public void step(long n, String newStatus) {
        current = Math.min(total, current + n);
        status = newStatus == null ? "" : newStatus;
        long now = System.nanoTime();
        int decile = (int) (current * 10 / total);
        if (terminal && (now - lastDraw > 100_000_000L || current == total)) {
            lastDraw = now;
            out.print("\r" + line());
            out.flush();
        } else if (!terminal && decile != lastDecile) {
            lastDecile = decile;
            out.println(line());
        }
    }

    public void set(long value, String newStatus) {
        step(value - current, newStatus);
    }

    String line() {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        double rate = seconds > 0 ? current / seconds : 0;
        double eta = rate > 0 ? (total - current) / rate : 0;
        int width = 24;
        int filled = (int) (width * current / total);
        return String.format(Locale.ROOT, "%s [%s%s] %d/%d %s (%3.0f%%) %.1f %s/s ETA %s %s", label,
                "#".repeat(filled), ".".repeat(width - filled), current, total, unit, 100.0 * current / total, rate,
                unit, duration(eta), status);
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }

    @Override
    public void close() {
        if (terminal) {
            out.print("\r" + line() + "\n");
        } else if (lastDecile != 10) {
            out.println(line());
        }
        out.flush();
    }
}
