package dev.rlhf.llama.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The event file read back by a reader written here from the TFRecord and protobuf wire formats. */
class ScalarLogTest {
    @TempDir
    Path tmp;

    /** One decoded Event: its step, its file_version (or null) and its scalars in order. */
    record Event(long step, double wallTime, String fileVersion, Map<String, Float> scalars) {}

    @Test
    void eventFilesAndJsonlHoldEveryStepsScalarsWithValidFramingAndCrcs() throws Exception {
        // The CRC is the Castagnoli one: its standard check value.
        CRC32C check = new CRC32C();
        check.update("123456789".getBytes(StandardCharsets.US_ASCII));
        assertEquals(0xE3069283L, check.getValue());

        try (ScalarLog log = ScalarLog.open(tmp)) {
            for (int step = 1; step <= 3; step++) {
                Map<String, Double> s = new LinkedHashMap<>();
                s.put("loss", 2.0 / step);
                s.put("kl", step == 2 ? Double.NaN : 0.25 * step);
                log.write(step, s);
            }
        }
        Path file;
        try (Stream<Path> files = Files.list(tmp)) {
            file = files.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).findFirst()
                    .orElseThrow();
        }
        List<Event> events = read(Files.readAllBytes(file));
        assertEquals(4, events.size());
        assertEquals("brain.Event:2", events.get(0).fileVersion());
        for (int step = 1; step <= 3; step++) {
            Event e = events.get(step);
            assertEquals(step, e.step());
            assertEquals(List.of("loss", "kl"), new ArrayList<>(e.scalars().keySet()));
            assertEquals((float) (2.0 / step), e.scalars().get("loss"));
            assertTrue(e.wallTime() > 1.7e9, "seconds since the epoch: " + e.wallTime());
        }
        assertTrue(Float.isNaN(events.get(2).scalars().get("kl")));
        assertEquals(0.75f, events.get(3).scalars().get("kl"));

        List<String> lines = Files.readAllLines(tmp.resolve(ScalarLog.JSONL));
        assertEquals(3, lines.size());
        JsonObject second = JsonParser.parseString(lines.get(1)).getAsJsonObject();
        assertEquals(2, second.get("step").getAsLong());
        assertEquals(1.0, second.get("loss").getAsDouble());
        assertTrue(second.get("kl").isJsonNull(), "non-finite values are null in JSON");
    }

    /** TFRecords: length (u64 LE), masked CRC of the length, data, masked CRC of the data; both CRCs checked. */
    static List<Event> read(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        List<Event> out = new ArrayList<>();
        while (b.hasRemaining()) {
            byte[] lengthBytes = new byte[8];
            b.get(lengthBytes);
            assertEquals(masked(lengthBytes), b.getInt(), "length CRC of record " + out.size());
            int length = (int) ByteBuffer.wrap(lengthBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
            byte[] data = new byte[length];
            b.get(data);
            assertEquals(masked(data), b.getInt(), "data CRC of record " + out.size());
            out.add(decodeEvent(data));
        }
        return out;
    }

    private static int masked(byte[] data) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        long c = crc.getValue();
        long rotated = ((c >>> 15) | (c << 17)) & 0xFFFFFFFFL;
        return (int) ((rotated + 0xa282ead8L) & 0xFFFFFFFFL);
    }

    private static Event decodeEvent(byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        long step = 0;
        double wallTime = Double.NaN;
        String version = null;
        Map<String, Float> scalars = new LinkedHashMap<>();
        while (b.hasRemaining()) {
            long key = varint(b);
            int field = (int) (key >>> 3);
            int wire = (int) (key & 7);
            if (field == 1 && wire == 1) {
                wallTime = b.getDouble();
            } else if (field == 2 && wire == 0) {
                step = varint(b);
            } else if (field == 3 && wire == 2) {
                version = new String(bytes(b), StandardCharsets.UTF_8);
            } else if (field == 5 && wire == 2) {
                ByteBuffer summary = ByteBuffer.wrap(bytes(b)).order(ByteOrder.LITTLE_ENDIAN);
                while (summary.hasRemaining()) {
                    assertEquals((1 << 3) | 2, varint(summary), "Summary.value");
                    ByteBuffer value = ByteBuffer.wrap(bytes(summary)).order(ByteOrder.LITTLE_ENDIAN);
                    String tag = null;
                    Float simple = null;
                    while (value.hasRemaining()) {
                        long k = varint(value);
                        if (k == ((1 << 3) | 2)) {
                            tag = new String(bytes(value), StandardCharsets.UTF_8);
                        } else if (k == ((2 << 3) | 5)) {
                            simple = value.getFloat();
                        } else {
                            throw new AssertionError("unexpected Value field " + k);
                        }
                    }
                    scalars.put(tag, simple);
                }
            } else {
                throw new AssertionError("unexpected Event field " + field + " wire type " + wire);
            }
        }
        return new Event(step, wallTime, version, scalars);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[(int) varint(b)];
        b.get(out);
        return out;
    }

    private static long varint(ByteBuffer b) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            byte x = b.get();
            v |= (long) (x & 0x7F) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
        }
    }
}
