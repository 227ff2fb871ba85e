package dev.rlhf.bench;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Helpers shared by the benchmark harnesses: arguments, process memory, load, statistics, JSON output. */
final class BenchSupport {
    private BenchSupport() {}

    /** {@code --key value} pairs (a bare {@code --flag} maps to "true"). */
    static Map<String, String> parseArgs(String[] args) {
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + args[i]);
            }
            String key = args[i].substring(2);
            if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                out.put(key, args[++i]);
            } else {
                out.put(key, "true");
            }
        }
        return out;
    }

    /**
     * Sets libtorch's intra-op thread count before the engine starts (DJL reads the property once, at
     * engine init). 0 or absent keeps libtorch's default (one per core).
     */
    static void configureThreads(Map<String, String> args) {
        int threads = Integer.parseInt(args.getOrDefault("threads", "0"));
        if (threads > 0) {
            System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
    }

    /** A field of /proc/self/status in KiB (VmHWM = peak RSS, VmRSS = current RSS), or -1. */
    static long procStatusKib(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8)) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * Resets the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux: "5" to /proc/self/clear_refs), so a
     * later VmHWM is the peak of what follows, not of the set-up before it. False where that is not possible.
     */
    static boolean resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Sum over heap pools of their peak usage since the last {@link #resetHeapPeaks} (an upper bound). */
    static long heapPeakBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    static void resetHeapPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
    }

    /** The three load averages from /proc/loadavg, as text. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    /**
     * CPU counters at one instant: all CPUs' busy and total jiffies (/proc/stat) and this process's own
     * (/proc/self/stat utime + stime), so a timed interval can tell how much CPU other processes took.
     */
    record CpuSnapshot(long busy, long total, long self) {
        static CpuSnapshot now() {
            try {
                String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
                long total = 0;
                for (int i = 1; i < Math.min(f.length, 9); i++) { // user nice system idle iowait irq softirq steal
                    total += Long.parseLong(f[i]);
                }
                long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
                String stat = Files.readString(Path.of("/proc/self/stat"));
                String[] g = stat.substring(stat.lastIndexOf(')') + 2).split("\\s+");
                long self = Long.parseLong(g[11]) + Long.parseLong(g[12]); // fields 14, 15: utime, stime
                return new CpuSnapshot(total - idle, total, self);
            } catch (IOException | RuntimeException e) {
                return new CpuSnapshot(0, 0, 0);
            }
        }

        /** Percent of all CPUs' time since {@code start} spent busy in other processes. */
        double foreignBusyPercent(CpuSnapshot start) {
            long total = this.total - start.total;
            if (total <= 0) {
                return Double.NaN;
            }
            long foreign = (busy - start.busy) - (self - start.self);
            return Math.max(0, 100.0 * foreign / total);
        }
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static double max(double[] values) {
        return Arrays.stream(values).max().orElse(Double.NaN);
    }

    static double min(double[] values) {
        return Arrays.stream(values).min().orElse(Double.NaN);
    }

    /** Common metadata for every JSON record. */
    static Map<String, Object> header(String harness) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("harness", harness);
        m.put("time", Instant.now().toString());
        m.put("java", System.getProperty("java.version"));
        m.put("cpus", Runtime.getRuntime().availableProcessors());
        m.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
        m.put("loadBefore", loadAverage());
        return m;
    }

    static void writeJson(String out, Map<String, Object> record) throws IOException {
        if (out == null) {
            return;
        }
        Path p = Path.of(out);
        if (p.getParent() != null) {
            Files.createDirectories(p.getParent());
        }
        Files.writeString(p, new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create()
                .toJson(record) + "\n", StandardCharsets.UTF_8);
    }

    static List<Double> boxed(double[] values) {
        return Arrays.stream(values).boxed().toList();
    }
}
