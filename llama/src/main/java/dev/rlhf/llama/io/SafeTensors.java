package dev.rlhf.llama.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reader and writer of the Hugging Face safetensors format: an 8-byte little-endian header length,
 * a UTF-8 JSON header, then the little-endian tensor bytes at offsets relative to the header's end.
 */
public final class SafeTensors {

  /** The header key that holds free-form string metadata instead of a tensor. */
  public static final String METADATA_KEY = "__metadata__";

  /** Same limit as the reference Rust implementation; a larger value means a corrupt or hostile file. */
  static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  private static final int HEADER_ALIGNMENT = 8;

  // HTML escaping would turn '<' in metadata into \u003c: valid JSON, but needlessly unlike other writers.
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

  private SafeTensors() {}

  /**
   * Reads a safetensors file, memory-mapping each tensor so a large checkpoint is not copied into the
   * heap before it is converted; the mappings stay valid after this method returns.
   */
  public static SafeTensorsFile read(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long fileSize = ch.size();
      if (fileSize < 8) {
        throw fail(file, "is " + fileSize + " bytes, too short to hold the 8-byte header length");
      }
      long headerLength = readFully(ch, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
      // Compared unsigned: the length is a u64, and a huge one reads as negative in Java.
      if (Long.compareUnsigned(headerLength, fileSize - 8) > 0) {
        throw fail(file, "header length " + Long.toUnsignedString(headerLength)
            + " is larger than the " + (fileSize - 8) + " bytes after the length field");
      }
      if (headerLength > MAX_HEADER_BYTES) {
        throw fail(file, "header length " + headerLength + " exceeds the " + MAX_HEADER_BYTES + "-byte limit");
      }
      JsonObject header = parseHeader(file, readFully(ch, 8, (int) headerLength));

      long dataStart = 8 + headerLength;
      long dataLength = fileSize - dataStart;
      LinkedHashMap<String, String> metadata = new LinkedHashMap<>();
      List<Entry> entries = new ArrayList<>();
      for (Map.Entry<String, JsonElement> e : header.entrySet()) {
        if (e.getKey().equals(METADATA_KEY)) {
          parseMetadata(file, e.getValue(), metadata);
        } else {
          entries.add(parseEntry(file, e.getKey(), e.getValue(), dataLength));
        }
      }
      checkNoOverlap(file, entries);

      LinkedHashMap<String, TensorData> tensors = new LinkedHashMap<>();
      for (Entry en : entries) {
        long size = en.end - en.begin;
        ByteBuffer bytes = size == 0
            ? ByteBuffer.allocate(0)
            : ch.map(FileChannel.MapMode.READ_ONLY, dataStart + en.begin, size);
        tensors.put(en.name, new TensorData(en.name, en.dtype, en.shape, bytes));
      }
      return new SafeTensorsFile(file, tensors, metadata);
    } catch (IOException e) {
      throw new CheckpointException("file " + file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Writes tensors in the given order with no metadata. */
  public static void write(Path file, List<TensorData> tensors) {
    write(file, tensors, Map.of());
  }

  /**
   * Writes tensors in the given order, packed back to back; the header is padded with spaces to a
   * multiple of 8 bytes so every tensor starts 8-byte aligned in the file (as the reference writer does).
   */
  public static void write(Path file, List<TensorData> tensors, Map<String, String> metadata) {
    JsonObject header = new JsonObject();
    if (metadata != null && !metadata.isEmpty()) {
      JsonObject meta = new JsonObject();
      metadata.forEach(meta::addProperty);
      header.add(METADATA_KEY, meta);
    }
    Set<String> seen = new HashSet<>();
    long offset = 0;
    for (TensorData t : tensors) {
      if (t.name().equals(METADATA_KEY)) {
        throw fail(file, "a tensor cannot be named '" + METADATA_KEY + "'");
      }
      if (!seen.add(t.name())) {
        throw fail(file, "tensor '" + t.name() + "' is given twice");
      }
      JsonObject entry = new JsonObject();
      entry.addProperty("dtype", t.dtype().name());
      JsonArray shape = new JsonArray();
      for (long d : t.shape()) {
        shape.add(d);
      }
      entry.add("shape", shape);
      JsonArray offsets = new JsonArray();
      offsets.add(offset);
      offsets.add(offset + t.byteSize());
      entry.add("data_offsets", offsets);
      header.add(t.name(), entry);
      offset += t.byteSize();
    }

    byte[] json = GSON.toJson(header).getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + HEADER_ALIGNMENT - 1) / HEADER_ALIGNMENT * HEADER_ALIGNMENT;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();

    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      writeFully(ch, head);
      for (TensorData t : tensors) {
        writeFully(ch, t.data());
      }
    } catch (IOException e) {
      throw new CheckpointException("file " + file + ": cannot write: " + e.getMessage(), e);
    }
  }

  private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

  private static JsonObject parseHeader(Path file, ByteBuffer bytes) {
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(bytes)
          .toString();
    } catch (CharacterCodingException e) {
      throw fail(file, "header is not valid UTF-8");
    }
    JsonElement root;
    try {
      // Strict, because Gson's default lenient mode would accept comments, unquoted names and the like.
      JsonReader reader = new JsonReader(new StringReader(text));
      reader.setStrictness(Strictness.STRICT);
      root = JsonParser.parseReader(reader);
      if (reader.peek() != JsonToken.END_DOCUMENT) {
        throw new JsonParseException("trailing content after the header object");
      }
    } catch (JsonParseException | IOException e) {
      throw new CheckpointException("file " + file + ": header is not valid JSON: " + e.getMessage(), e);
    }
    if (!root.isJsonObject()) {
      throw fail(file, "header is not a JSON object");
    }
    return root.getAsJsonObject();
  }

  private static void parseMetadata(Path file, JsonElement value, Map<String, String> out) {
    if (!value.isJsonObject()) {
      throw fail(file, METADATA_KEY + " is not a JSON object");
    }
    for (Map.Entry<String, JsonElement> e : value.getAsJsonObject().entrySet()) {
      JsonElement v = e.getValue();
      if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
        throw fail(file, METADATA_KEY + " value for '" + e.getKey() + "' is not a string");
      }
      out.put(e.getKey(), v.getAsString());
    }
  }

  private static Entry parseEntry(Path file, String name, JsonElement value, long dataLength) {
    String where = "tensor '" + name + "'";
    if (!value.isJsonObject()) {
      throw fail(file, where + " is not a JSON object");
    }
    JsonObject obj = value.getAsJsonObject();
    JsonElement dtypeEl = obj.get("dtype");
    if (dtypeEl == null || !dtypeEl.isJsonPrimitive() || !dtypeEl.getAsJsonPrimitive().isString()) {
      throw fail(file, where + " has no string 'dtype'");
    }
    String dtypeName = dtypeEl.getAsString();
    DType dtype = DType.fromHeader(dtypeName).orElseThrow(() -> fail(file,
        where + " has unknown dtype '" + dtypeName + "' (known: " + Arrays.toString(DType.values()) + ")"));
    long[] shape = longArray(file, where, obj, "shape", -1);
    long[] offsets = longArray(file, where, obj, "data_offsets", 2);
    long begin = offsets[0];
    long end = offsets[1];
    if (end < begin) {
      throw fail(file, where + " has data_offsets [" + begin + ", " + end + "] that end before they begin");
    }
    long expected;
    try {
      expected = Math.multiplyExact(TensorData.elementCount(shape), dtype.byteSize());
    } catch (ArithmeticException e) {
      throw fail(file, where + " has shape " + Arrays.toString(shape) + " whose byte size overflows");
    }
    if (end - begin != expected) {
      throw fail(file, where + " expects " + expected + " bytes (shape " + Arrays.toString(shape) + ", "
          + dtype + ") but data_offsets span " + (end - begin));
    }
    if (end > dataLength) {
      throw fail(file, where + " ends at data offset " + end + " but only " + dataLength
          + " data bytes follow the header (truncated file?)");
    }
    if (expected > Integer.MAX_VALUE) {
      throw fail(file, where + " is " + expected + " bytes, more than one buffer can map (2 GiB)");
    }
    return new Entry(name, dtype, shape, begin, end);
  }

  private static long[] longArray(Path file, String where, JsonObject obj, String key, int requiredLength) {
    JsonElement el = obj.get(key);
    if (el == null || !el.isJsonArray()) {
      throw fail(file, where + " has no '" + key + "' array");
    }
    JsonArray arr = el.getAsJsonArray();
    if (requiredLength >= 0 && arr.size() != requiredLength) {
      throw fail(file, where + " has '" + key + "' of length " + arr.size() + ", expected " + requiredLength);
    }
    long[] out = new long[arr.size()];
    for (int i = 0; i < out.length; i++) {
      JsonElement v = arr.get(i);
      long parsed = -1;
      if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()) {
        try {
          // Parsing the literal rejects 1.5 or 1e3, which getAsLong would silently truncate or accept.
          parsed = Long.parseLong(v.getAsString());
        } catch (NumberFormatException ignored) {
          parsed = -1;
        }
      }
      if (parsed < 0) {
        throw fail(file, where + " has '" + key + "' entry " + v + " that is not a non-negative integer");
      }
      out[i] = parsed;
    }
    return out;
  }

  private static void checkNoOverlap(Path file, List<Entry> entries) {
    List<Entry> sorted = new ArrayList<>();
    for (Entry e : entries) {
      // Empty tensors occupy no bytes, so they cannot collide with anything.
      if (e.end > e.begin) {
        sorted.add(e);
      }
    }
    sorted.sort(Comparator.comparingLong(Entry::begin));
    for (int i = 1; i < sorted.size(); i++) {
      Entry prev = sorted.get(i - 1);
      Entry cur = sorted.get(i);
      if (cur.begin < prev.end) {
        throw fail(file, "tensors '" + prev.name + "' [" + prev.begin + ", " + prev.end + ") and '"
            + cur.name + "' [" + cur.begin + ", " + cur.end + ") have overlapping data_offsets");
      }
    }
  }

  private static ByteBuffer readFully(FileChannel ch, long position, int length) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(length);
    while (buf.hasRemaining()) {
      int n = ch.read(buf, position + buf.position());
      if (n < 0) {
        throw new IOException("unexpected end of file at byte " + (position + buf.position()));
      }
    }
    return buf.flip();
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }

  private static CheckpointException fail(Path file, String problem) {
    return new CheckpointException("file " + file + ": " + problem);
  }
}
