package dev.rlhf.llama.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Our {@code manifest.json} in a checkpoint directory: format version, training step, sha256 of every other file, and free-form metadata. */
public final class Manifest {

  public static final String FILE_NAME = "manifest.json";

  /** Bumped on an incompatible layout change, so an old reader refuses a new manifest instead of misreading it. */
  public static final int FORMAT = 1;

  private static final int HASH_BUFFER_BYTES = 1 << 20;

  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

  private final long step;
  private final Map<String, String> files;
  private final JsonObject metadata;

  private Manifest(long step, Map<String, String> files, JsonObject metadata) {
    this.step = step;
    // Sorted so that the manifest text, and the order of verification, does not depend on directory listing order.
    this.files = Collections.unmodifiableMap(new TreeMap<>(files));
    this.metadata = metadata == null ? new JsonObject() : metadata.deepCopy();
  }

  /** Hashes every regular file under {@code dir} except its own {@code manifest.json}; paths are relative and '/'-separated. */
  public static Manifest create(Path dir, long step, JsonObject metadata) {
    Map<String, String> files = new TreeMap<>();
    List<Path> paths;
    try (Stream<Path> walk = Files.walk(dir)) {
      paths = walk.filter(Files::isRegularFile).collect(Collectors.toList());
    } catch (IOException e) {
      throw new CheckpointException("dir " + dir + ": cannot list files: " + e.getMessage(), e);
    }
    Path ownFile = dir.resolve(FILE_NAME);
    for (Path p : paths) {
      if (p.equals(ownFile)) {
        continue;
      }
      files.put(relativeName(dir, p), sha256(p));
    }
    return new Manifest(step, files, metadata);
  }

  /** Writes {@code dir/manifest.json} via a temporary file and rename, so a crash never leaves half a manifest. */
  public void write(Path dir) {
    JsonObject root = new JsonObject();
    root.addProperty("format", FORMAT);
    root.addProperty("step", step);
    JsonObject fileHashes = new JsonObject();
    files.forEach(fileHashes::addProperty);
    root.add("files", fileHashes);
    root.add("metadata", metadata.deepCopy());
    Path target = dir.resolve(FILE_NAME);
    Path temp = dir.resolve(FILE_NAME + ".tmp");
    try {
      Files.writeString(temp, GSON.toJson(root) + "\n", StandardCharsets.UTF_8);
      Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      try {
        Files.deleteIfExists(temp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw new CheckpointException("file " + target + ": cannot write: " + e.getMessage(), e);
    }
  }

  /** Reads {@code dir/manifest.json}, refusing an unknown format version or malformed fields. */
  public static Manifest read(Path dir) {
    Path file = dir.resolve(FILE_NAME);
    JsonElement root;
    try {
      root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new CheckpointException("file " + file + ": cannot read: " + e.getMessage(), e);
    } catch (JsonParseException e) {
      throw new CheckpointException("file " + file + ": not valid JSON: " + e.getMessage(), e);
    }
    if (!root.isJsonObject()) {
      throw new CheckpointException("file " + file + ": not a JSON object");
    }
    JsonObject obj = root.getAsJsonObject();
    long format = requireLong(file, obj, "format");
    if (format != FORMAT) {
      throw new CheckpointException("file " + file + ": unsupported manifest format " + format + " (this reader knows " + FORMAT + ")");
    }
    long step = requireLong(file, obj, "step");
    JsonElement filesEl = obj.get("files");
    if (filesEl == null || !filesEl.isJsonObject()) {
      throw new CheckpointException("file " + file + ": has no 'files' object");
    }
    Map<String, String> files = new TreeMap<>();
    for (Map.Entry<String, JsonElement> e : filesEl.getAsJsonObject().entrySet()) {
      String name = e.getKey();
      JsonElement v = e.getValue();
      if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString() || !v.getAsString().matches("[0-9a-f]{64}")) {
        throw new CheckpointException("file " + file + ": entry for '" + name + "' is not a sha256 hex digest");
      }
      // A listed path must stay inside the checkpoint, or verify() could be pointed at arbitrary files.
      if (name.isEmpty() || name.startsWith("/") || name.contains("\\") || List.of(name.split("/")).contains("..")) {
        throw new CheckpointException("file " + file + ": entry '" + name + "' is not a relative path inside the checkpoint");
      }
      files.put(name, v.getAsString());
    }
    JsonElement metaEl = obj.get("metadata");
    JsonObject metadata;
    if (metaEl == null || metaEl.isJsonNull()) {
      metadata = new JsonObject();
    } else if (metaEl.isJsonObject()) {
      metadata = metaEl.getAsJsonObject();
    } else {
      throw new CheckpointException("file " + file + ": 'metadata' is not a JSON object");
    }
    return new Manifest(step, files, metadata);
  }

  /** Checks every listed file against its sha256, in path order, and throws naming the first one missing or changed. */
  public void verify(Path dir) {
    for (Map.Entry<String, String> e : files.entrySet()) {
      Path p = dir.resolve(e.getKey());
      if (!Files.isRegularFile(p)) {
        throw new CheckpointException("dir " + dir + ": file '" + e.getKey() + "' listed in " + FILE_NAME + " is missing");
      }
      String actual = sha256(p);
      if (!actual.equals(e.getValue())) {
        throw new CheckpointException("dir " + dir + ": file '" + e.getKey() + "' has sha256 " + actual
            + " but " + FILE_NAME + " records " + e.getValue());
      }
    }
  }

  /** Lowercase hex sha256 of a file, streamed through a 1 MiB buffer so multi-GB checkpoints need no heap. */
  public static String sha256(Path file) {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime must provide SHA-256", e);
    }
    byte[] buf = new byte[HASH_BUFFER_BYTES];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        digest.update(buf, 0, n);
      }
    } catch (IOException e) {
      throw new CheckpointException("file " + file + ": cannot hash: " + e.getMessage(), e);
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  public long step() {
    return step;
  }

  /** Relative path ('/'-separated) to lowercase sha256 hex, sorted by path. */
  public Map<String, String> files() {
    return files;
  }

  /** A copy, so callers cannot change what {@link #write} will store. */
  public JsonObject metadata() {
    return metadata.deepCopy();
  }

  private static String relativeName(Path dir, Path file) {
    Path rel = dir.relativize(file);
    StringBuilder sb = new StringBuilder();
    for (Path part : rel) {
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(part);
    }
    return sb.toString();
  }

  private static long requireLong(Path file, JsonObject obj, String key) {
    JsonElement el = obj.get(key);
    if (el == null || !el.isJsonPrimitive() || !el.getAsJsonPrimitive().isNumber()) {
      throw new CheckpointException("file " + file + ": has no numeric '" + key + "'");
    }
    try {
      return Long.parseLong(el.getAsString());
    } catch (NumberFormatException e) {
      throw new CheckpointException("file " + file + ": '" + key + "' is not an integer: " + el, e);
    }
  }
}
