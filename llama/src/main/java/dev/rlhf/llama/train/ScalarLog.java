package dev.rlhf.llama.train;

import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * Per-step training scalars (loss, learning rate, gradient norm, tokens/s, rewards, KL, ...), written to a directory
 * in two forms, flushed after every step so a crash loses nothing and the curves are live:
 * <ul>
 *   <li>a TensorBoard event file, {@code events.out.tfevents.<seconds>.<host>.<pid>}: records in TFRecord framing
 *       ({@code uint64 length, uint32 masked_crc32c(length), data, uint32 masked_crc32c(data)}, little-endian; the
 *       mask is {@code ((crc >>> 15) | (crc << 17)) + 0xa282ead8}), each an {@code Event} protobuf (wall_time = 1,
 *       step = 2, file_version = 3, summary = 5) whose {@code Summary} holds one {@code Value} (tag = 1,
 *       simple_value = 2) per scalar; the first record is the {@code "brain.Event:2"} version event. The few
 *       protobuf fields are encoded here by hand, so the model library needs no protobuf runtime;
 *   <li>{@code scalars.jsonl}: one {@code {"step", "wall_time", <tag>: value, ...}} per step (non-finite as null).
 * </ul>
 * A restarted trainer opens a new event file in the same directory; TensorBoard reads them as one run.
 */
public final class ScalarLog implements AutoCloseable {
    public static final String JSONL = "scalars.jsonl";
    private static final int MASK_DELTA = 0xa282ead8;

    private final Path dir;
    private OutputStream events;
    private Writer jsonl;
    private long lastNanos = System.nanoTime();

    private ScalarLog(Path dir) {
        this.dir = dir;
    }

    /** Opens (creating) {@code dir} and writes the version event; {@code null} gives a log that writes nothing. */
    public static ScalarLog open(Path dir) {
        ScalarLog log = new ScalarLog(dir);
        log.ensureOpen();
        return log;
    }

    /** As {@link #open}, but nothing is created until the first step is written (a trainer that never steps). */
    public static ScalarLog openOnFirstWrite(Path dir) {
        return new ScalarLog(dir);
    }

    private void ensureOpen() {
        if (dir == null || events != null) {
            return;
        }
        try {
            Files.createDirectories(dir);
            String host;
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                host = "localhost";
            }
            long seconds = System.currentTimeMillis() / 1000;
            Path file = dir.resolve(String.format(Locale.ROOT, "events.out.tfevents.%d.%s.%d", seconds, host,
                    ProcessHandle.current().pid()));
            events = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            jsonl = Files.newBufferedWriter(dir.resolve(JSONL), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
            record(event(System.currentTimeMillis() / 1000.0, 0, "brain.Event:2", null));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the training log in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** One step's scalars, in the given order. */
    public synchronized void write(long step, Map<String, Double> scalars) {
        ensureOpen();
        if (events == null) {
            return;
        }
        double wallTime = System.currentTimeMillis() / 1000.0;
        try {
            record(event(wallTime, step, null, scalars));
            JsonObject o = new JsonObject();
            o.addProperty("step", step);
            o.addProperty("wall_time", wallTime);
            scalars.forEach((tag, v) -> o.addProperty(tag, v == null || !Double.isFinite(v) ? null : v));
            jsonl.write(o + "\n");
            jsonl.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the training log: " + e.getMessage(), e);
        }
    }

    /**
     * A language-model or reward-model step: loss, lr, grad_norm and tokens/s (over the wall time since the last
     * call, or since the log opened), plus {@code extra}.
     */
    public void trainingStep(Trainer.StepResult r, long tokens, Map<String, Double> extra) {
        long now = System.nanoTime();
        double seconds = (now - lastNanos) / 1e9;
        lastNanos = now;
        Map<String, Double> scalars = new LinkedHashMap<>();
        scalars.put("loss", r.loss());
        scalars.put("lr", r.learningRate());
        scalars.put("grad_norm", r.gradNorm());
        scalars.put("tokens_per_s", seconds > 0 ? tokens / seconds : Double.NaN);
        scalars.putAll(extra);
        write(r.step(), scalars);
    }

    private void record(byte[] data) throws IOException {
        byte[] length = new byte[8];
        long n = data.length;
        for (int i = 0; i < 8; i++) {
            length[i] = (byte) (n >>> (8 * i));
        }
        events.write(length);
        events.write(le32(maskedCrc(length)));
        events.write(data);
        events.write(le32(maskedCrc(data)));
        events.flush();
    }

    /** TFRecord's masked CRC32C (Castagnoli). */
    static int maskedCrc(byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }

    private static byte[] le32(int v) {
        return new byte[] {(byte) v, (byte) (v >>> 8), (byte) (v >>> 16), (byte) (v >>> 24)};
    }

    /** Event{wall_time=1 (double), step=2 (int64), file_version=3 (string) | summary=5 (Summary)}. */
    static byte[] event(double wallTime, long step, String fileVersion, Map<String, Double> scalars) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write((1 << 3) | 1); // fixed64
        long bits = Double.doubleToLongBits(wallTime);
        for (int i = 0; i < 8; i++) {
            out.write((int) (bits >>> (8 * i)));
        }
        if (step != 0) {
            out.write(2 << 3); // varint
            varint(out, step);
        }
        if (fileVersion != null) {
            bytesField(out, 3, fileVersion.getBytes(StandardCharsets.UTF_8));
        }
        if (scalars != null) {
            ByteArrayOutputStream summary = new ByteArrayOutputStream();
            scalars.forEach((tag, v) -> {
                ByteArrayOutputStream value = new ByteArrayOutputStream();
                bytesField(value, 1, tag.getBytes(StandardCharsets.UTF_8));
                value.write((2 << 3) | 5); // fixed32
                int f = Float.floatToIntBits(v == null ? Float.NaN : v.floatValue());
                value.writeBytes(le32(f));
                bytesField(summary, 1, value.toByteArray());
            });
            bytesField(out, 5, summary.toByteArray());
        }
        return out.toByteArray();
    }

    private static void bytesField(ByteArrayOutputStream out, int field, byte[] bytes) {
        out.write((field << 3) | 2); // length-delimited
        varint(out, bytes.length);
        out.writeBytes(bytes);
    }

    private static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    @Override
    public synchronized void close() {
        if (events == null) {
            return;
        }
        try {
            events.close();
            jsonl.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close the training log: " + e.getMessage(), e);
        }
    }
}
