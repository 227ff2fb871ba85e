package dev.rlhf.llama.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {

  @TempDir Path tmp;

  /** Builds a file byte by byte, independently of {@link SafeTensors#write}. */
  private static Path handBuilt(Path file, String header, byte[] data) throws IOException {
    byte[] json = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer buf = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(json.length).put(json).put(data);
    Files.write(file, buf.array());
    return file;
  }

  private static byte[] littleEndian(int capacity, Consumer<ByteBuffer> fill) {
    ByteBuffer b = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    fill.accept(b);
    return b.array();
  }

  @Test
  void f32RoundTripIsBitExact() {
    float[] values = {0f, -0f, 1.5f, -2.25f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NaN,
        Float.POSITIVE_INFINITY, 1e-30f, 3.1415927f, 123456.79f, -7e7f};
    TensorData w = TensorData.ofFloats("model.layers.0.self_attn.q_proj.weight", new long[] {3, 4}, values);
    TensorData b = TensorData.ofFloats("model.norm.weight", new long[] {2}, new float[] {0.25f, -8f});
    Path file = tmp.resolve("model.safetensors");
    SafeTensors.write(file, List.of(w, b), Map.of("format", "pt"));

    SafeTensorsFile read = SafeTensors.read(file);
    assertEquals(List.of("model.layers.0.self_attn.q_proj.weight", "model.norm.weight"), List.copyOf(read.names()));
    TensorData rw = read.get("model.layers.0.self_attn.q_proj.weight");
    assertEquals(DType.F32, rw.dtype());
    assertArrayEquals(new long[] {3, 4}, rw.shape());
    float[] back = rw.toFloatArray();
    for (int i = 0; i < values.length; i++) {
      assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(back[i]), "element " + i);
    }
    assertArrayEquals(new float[] {0.25f, -8f}, read.get("model.norm.weight").toFloatArray());
    assertEquals(w, rw, "equal as values: name, dtype, shape and bytes");
  }

  @Test
  void halfAndBf16TensorsStoreRoundedLittleEndianBits() {
    float[] values = {1.0f, -2.0f, 65504f, 0x1p-24f, Float.POSITIVE_INFINITY, Float.NaN, 1.0f + 0x1p-11f};
    TensorData f16 = TensorData.ofFloats("h", new long[] {values.length}, values, DType.F16);
    ByteBuffer raw = f16.data();
    assertEquals(0x00, raw.get(0) & 0xff, "low byte of 0x3C00 first");
    assertEquals(0x3C, raw.get(1) & 0xff);
    assertEquals(0xC000, raw.getShort(2) & 0xffff);
    assertEquals(0x7BFF, raw.getShort(4) & 0xffff);
    assertEquals(0x0001, raw.getShort(6) & 0xffff);
    assertEquals(0x7C00, raw.getShort(8) & 0xffff);
    assertEquals(0x3C00, raw.getShort(12) & 0xffff, "tie rounds to even");

    TensorData bf = TensorData.ofFloats("b", new long[] {values.length}, values, DType.BF16);
    assertEquals(0x3F80, bf.data().getShort(0) & 0xffff);
    assertEquals(0xC000, bf.data().getShort(2) & 0xffff);

    Path file = tmp.resolve("half.safetensors");
    SafeTensors.write(file, List.of(f16, bf));
    SafeTensorsFile read = SafeTensors.read(file);
    float[] h = read.get("h").toFloatArray();
    assertArrayEquals(new float[] {1.0f, -2.0f, 65504f, 0x1p-24f, Float.POSITIVE_INFINITY}, Arrays.copyOf(h, 5));
    assertTrue(Float.isNaN(h[5]));
    assertEquals(1.0f, h[6]);
    float[] b = read.get("b").toFloatArray();
    // 65504 is not a bf16 value: 0x477FE000 rounds to 0x4780 = 65536.
    assertEquals(65536f, b[2]);
    assertEquals(0x1p-24f, b[3], "powers of two are exact in bf16");
    assertEquals(DType.BF16, read.get("b").dtype());
  }

  @Test
  void readsAHandBuiltFileInHeaderOrder() throws IOException {
    // Data layout (offsets relative to the end of the header):
    // [0,8) "w" F32 [2]; [8,12) "h" F16 [1,2]; [12,14) "b" BF16 []; [16,32) "ids" I64 [2]; [32,40) "i32" I32 [2];
    // [40,48) "d" F64 [1]. Bytes 14-16 are a gap, which readers must tolerate.
    byte[] data = littleEndian(48, b -> {
      b.putFloat(0, 1.5f).putFloat(4, -2f);
      b.putShort(8, (short) 0x3C00).putShort(10, (short) 0xC000);
      b.putShort(12, (short) 0x3F80);
      b.putLong(16, 7L).putLong(24, -3_000_000_000L);
      b.putInt(32, 42).putInt(36, -1);
      b.putDouble(40, 0.1);
    });
    String header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"hand made\"},"
        + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"h\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[8,12]},"
        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[12,14]},"
        + "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16,32]},"
        + "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]},"
        + "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[40,48]}}";
    SafeTensorsFile f = SafeTensors.read(handBuilt(tmp.resolve("hand.safetensors"), header, data));

    assertEquals(List.of("w", "h", "b", "ids", "i32", "d"), List.copyOf(f.names()));
    assertEquals(Map.of("format", "pt", "note", "hand made"), f.metadata());
    assertArrayEquals(new float[] {1.5f, -2f}, f.get("w").toFloatArray());
    assertArrayEquals(new long[] {1, 2}, f.get("h").shape());
    assertArrayEquals(new float[] {1.0f, -2.0f}, f.get("h").toFloatArray());
    assertEquals(1, f.get("b").numel(), "a scalar has one element");
    assertArrayEquals(new float[] {1.0f}, f.get("b").toFloatArray());
    assertArrayEquals(new long[] {7L, -3_000_000_000L}, f.get("ids").toLongArray());
    assertArrayEquals(new long[] {42, -1}, f.get("i32").toLongArray());
    assertArrayEquals(new float[] {0.1f}, f.get("d").toFloatArray());
    CheckpointException wrongKind = assertThrows(CheckpointException.class, () -> f.get("ids").toFloatArray());
    assertTrue(wrongKind.getMessage().contains("'ids'") && wrongKind.getMessage().contains("toLongArray"), wrongKind.getMessage());
    CheckpointException missing = assertThrows(CheckpointException.class, () -> f.get("nope"));
    assertTrue(missing.getMessage().contains("hand.safetensors") && missing.getMessage().contains("'nope'"));
  }

  @Test
  void headerIsSpacePaddedToAMultipleOf8AndMetadataRoundTrips() throws IOException {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    meta.put("step", "1200");
    meta.put("odd <chars> & \"quotes\"", "\u00e9\u4e2d");
    // A 3-element F32 tensor and a name chosen so the JSON length is not already a multiple of 8.
    TensorData t = TensorData.ofFloats("x", new long[] {3}, new float[] {1, 2, 3});
    TensorData u = TensorData.ofFloats("yy", new long[] {1}, new float[] {4}, DType.F16);
    Path file = tmp.resolve("padded.safetensors");
    SafeTensors.write(file, List.of(t, u), meta);

    byte[] bytes = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8, "header length " + n);
    assertEquals(8 + n + 12 + 2, bytes.length, "data follows the padded header immediately");
    String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertTrue(header.startsWith("{\"__metadata__\""), header);
    assertTrue(header.stripTrailing().endsWith("}"), "padding is spaces only: " + header);
    assertEquals(1.0f, ByteBuffer.wrap(bytes, (int) (8 + n), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat());

    SafeTensorsFile read = SafeTensors.read(file);
    assertEquals(meta, read.metadata());
    assertEquals(List.copyOf(meta.keySet()), List.copyOf(read.metadata().keySet()));
  }

  @Test
  void integerAndEmptyTensorsRoundTrip() {
    TensorData ids = TensorData.ofLongs("ids", new long[] {3}, new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}, DType.I64);
    TensorData mask = TensorData.ofLongs("mask", new long[] {2, 2}, new long[] {1, 0, 0, 1}, DType.I32);
    TensorData empty = TensorData.ofFloats("empty", new long[] {0, 4}, new float[0]);
    Path file = tmp.resolve("ints.safetensors");
    SafeTensors.write(file, List.of(ids, empty, mask));
    SafeTensorsFile read = SafeTensors.read(file);
    assertArrayEquals(new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE}, read.get("ids").toLongArray());
    assertArrayEquals(new long[] {1, 0, 0, 1}, read.get("mask").toLongArray());
    assertEquals(DType.I32, read.get("mask").dtype());
    assertEquals(0, read.get("empty").toFloatArray().length);
    assertArrayEquals(new long[] {0, 4}, read.get("empty").shape());
    assertThrows(IllegalArgumentException.class,
        () -> TensorData.ofLongs("big", new long[] {1}, new long[] {1L << 40}, DType.I32));
  }

  @Test
  void tensorsRejectValuesThatDoNotMatchTheShape() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TensorData.ofFloats("w", new long[] {2, 3}, new float[5]));
    assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("[2, 3]"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> new TensorData("w", DType.F32, new long[] {2}, ByteBuffer.allocate(7)));
  }

  @Test
  void writingTheSameNameTwiceIsRejected() {
    TensorData a = TensorData.ofFloats("a", new long[] {1}, new float[] {1});
    Path file = tmp.resolve("dup.safetensors");
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.write(file, List.of(a, a)));
    assertTrue(e.getMessage().contains("dup.safetensors") && e.getMessage().contains("'a'"), e.getMessage());
  }

  @Test
  void truncatedFileNamesTheFileAndTheLastTensor() throws IOException {
    Path file = tmp.resolve("model.safetensors");
    SafeTensors.write(file, List.of(
        TensorData.ofFloats("model.embed_tokens.weight", new long[] {4, 2}, new float[8]),
        TensorData.ofFloats("model.norm.weight", new long[] {2}, new float[] {1, 1})));
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 3);
    }
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
    assertTrue(e.getMessage().contains("'model.norm.weight'"), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void headerLengthLargerThanTheFileIsRejected() throws IOException {
    Path file = tmp.resolve("badlen.safetensors");
    ByteBuffer b = ByteBuffer.allocate(8 + 16).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(1000).put("{}              ".getBytes(StandardCharsets.UTF_8));
    Files.write(file, b.array());
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("badlen.safetensors") && e.getMessage().contains("1000"), e.getMessage());

    // A u64 length with the top bit set must not be misread as a small negative number.
    b.putLong(0, -8L);
    Files.write(file, b.array());
    e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("18446744073709551608"), e.getMessage());

    Files.write(file, new byte[] {1, 2, 3});
    e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("too short"), e.getMessage());
  }

  @Test
  void invalidJsonHeaderIsRejected() throws IOException {
    Path file = handBuilt(tmp.resolve("json.safetensors"), "{\"w\": {dtype: F32}", new byte[0]);
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("json.safetensors") && e.getMessage().contains("not valid JSON"), e.getMessage());
  }

  @Test
  void unknownDtypeNamesFileTensorAndDtype() throws IOException {
    Path file = handBuilt(tmp.resolve("dtype.safetensors"),
        "{\"model.norm.weight\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]);
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("dtype.safetensors"), e.getMessage());
    assertTrue(e.getMessage().contains("'model.norm.weight'"), e.getMessage());
    assertTrue(e.getMessage().contains("Q4_K"), e.getMessage());
  }

  @Test
  void offsetsNotMatchingShapeTimesDtypeSizeAreRejected() throws IOException {
    Path file = handBuilt(tmp.resolve("model.safetensors"),
        "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[288],\"data_offsets\":[0,1000]}}", new byte[1152]);
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("model.safetensors: tensor 'model.norm.weight' expects 1152 bytes "
        + "(shape [288], F32) but data_offsets span 1000"), e.getMessage());
  }

  @Test
  void overlappingOffsetsNameBothTensors() throws IOException {
    Path file = handBuilt(tmp.resolve("overlap.safetensors"),
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]);
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("overlap.safetensors") && e.getMessage().contains("'a'")
        && e.getMessage().contains("'b'") && e.getMessage().contains("overlapping"), e.getMessage());
  }

  @Test
  void malformedEntriesAreRejectedWithTheTensorName() throws IOException {
    String[] headers = {
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}",
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}",
        "{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}",
        "{\"t\":[1,2]}",
    };
    for (String header : headers) {
      Path file = handBuilt(tmp.resolve("entry.safetensors"), header, new byte[8]);
      CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file), header);
      assertTrue(e.getMessage().contains("entry.safetensors") && e.getMessage().contains("'t'"), e.getMessage());
    }
    Path file = handBuilt(tmp.resolve("meta.safetensors"), "{\"__metadata__\":{\"step\":3}}", new byte[0]);
    CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(file));
    assertTrue(e.getMessage().contains("'step'") && e.getMessage().contains("not a string"), e.getMessage());
  }
}
