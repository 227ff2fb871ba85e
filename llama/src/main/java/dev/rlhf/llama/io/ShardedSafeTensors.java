package dev.rlhf.llama.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Reader and writer of Hugging Face sharded checkpoints: {@code model-0000K-of-0000N.safetensors} files plus {@code model.safetensors.index.json}. */
public final class ShardedSafeTensors {

  /** The single-file checkpoint name used by Hugging Face {@code save_pretrained}. */
  public static final String SINGLE_FILE = "model.safetensors";

  public static final String INDEX_FILE = "model.safetensors.index.json";

  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

  private ShardedSafeTensors() {}

  /** The parsed index: {@code metadata.total_size} and the tensor-to-shard map in file order. */
  public record Index(long totalSize, Map<String, String> weightMap) {
    public Index {
      weightMap = Collections.unmodifiableMap(new LinkedHashMap<>(weightMap));
    }
  }

  /** The shard file name for 1-based shard {@code k} of {@code n}, zero-padded to 5 digits like Hugging Face. */
  public static String shardName(int k, int n) {
    return String.format("model-%05d-of-%05d.safetensors", k, n);
  }

  /** Parses {@code dir/model.safetensors.index.json}. */
  public static Index readIndex(Path dir) {
    Path indexFile = dir.resolve(INDEX_FILE);
    JsonElement root;
    try {
      root = JsonParser.parseString(Files.readString(indexFile, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new CheckpointException("file " + indexFile + ": cannot read: " + e.getMessage(), e);
    } catch (JsonParseException e) {
      throw new CheckpointException("file " + indexFile + ": not valid JSON: " + e.getMessage(), e);
    }
    if (!root.isJsonObject() || !root.getAsJsonObject().has("weight_map")
        || !root.getAsJsonObject().get("weight_map").isJsonObject()) {
      throw new CheckpointException("file " + indexFile + ": has no 'weight_map' object");
    }
    JsonObject obj = root.getAsJsonObject();
    long totalSize = -1;
    JsonElement meta = obj.get("metadata");
    if (meta != null && meta.isJsonObject() && meta.getAsJsonObject().has("total_size")) {
      try {
        totalSize = meta.getAsJsonObject().get("total_size").getAsLong();
      } catch (RuntimeException e) {
        throw new CheckpointException("file " + indexFile + ": metadata.total_size is not a number", e);
      }
    }
    LinkedHashMap<String, String> weightMap = new LinkedHashMap<>();
    for (Map.Entry<String, JsonElement> e : obj.getAsJsonObject("weight_map").entrySet()) {
      JsonElement v = e.getValue();
      if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
        throw new CheckpointException(
            "file " + indexFile + ": weight_map entry for tensor '" + e.getKey() + "' is not a file name");
      }
      String shard = v.getAsString();
      // The index is data from disk; a name like ../x must not make us read outside the checkpoint.
      if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals(".") || shard.equals("..")) {
        throw new CheckpointException("file " + indexFile + ": tensor '" + e.getKey()
            + "' maps to '" + shard + "', which is not a plain file name in the checkpoint directory");
      }
      weightMap.put(e.getKey(), shard);
    }
    return new Index(totalSize, weightMap);
  }

  /**
   * Reads every tensor listed in the index of {@code dir}, in index order, each from its shard
   * (memory-mapped; each shard is opened once).
   */
  public static Map<String, TensorData> read(Path dir) {
    Index index = readIndex(dir);
    Map<String, SafeTensorsFile> shards = new LinkedHashMap<>();
    LinkedHashMap<String, TensorData> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
      String tensor = e.getKey();
      String shardName = e.getValue();
      SafeTensorsFile shard = shards.get(shardName);
      if (shard == null) {
        Path shardFile = dir.resolve(shardName);
        if (!Files.isRegularFile(shardFile)) {
          throw new CheckpointException("file " + dir.resolve(INDEX_FILE) + ": shard '" + shardName
              + "' (holding tensor '" + tensor + "') does not exist");
        }
        shard = SafeTensors.read(shardFile);
        shards.put(shardName, shard);
      }
      TensorData t = shard.tensors().get(tensor);
      if (t == null) {
        throw new CheckpointException("file " + shard.path() + ": tensor '" + tensor + "' is listed in "
            + INDEX_FILE + " for shard '" + shardName + "' but the shard does not contain it");
      }
      out.put(tensor, t);
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * Writes tensors in order into as few shards as fit {@code maxShardBytes} each, plus the index, and
   * returns the shard paths. A tensor larger than the limit gets a shard of its own, as Hugging Face does.
   * Existing files of the same names are overwritten; stale shards of a different count are not removed,
   * so write into a fresh directory (see {@link AtomicDirectory}).
   */
  public static List<Path> write(Path dir, List<TensorData> tensors, long maxShardBytes, Map<String, String> metadata) {
    Set<String> seen = new HashSet<>();
    for (TensorData t : tensors) {
      if (!seen.add(t.name())) {
        throw new CheckpointException("dir " + dir + ": tensor '" + t.name() + "' is given twice");
      }
    }
    List<List<TensorData>> groups = pack(tensors, maxShardBytes);
    List<Path> written = new ArrayList<>();
    LinkedHashMap<String, String> weightMap = new LinkedHashMap<>();
    long totalSize = 0;
    try {
      Files.createDirectories(dir);
      for (int i = 0; i < groups.size(); i++) {
        String name = shardName(i + 1, groups.size());
        Path file = dir.resolve(name);
        SafeTensors.write(file, groups.get(i), metadata);
        written.add(file);
        for (TensorData t : groups.get(i)) {
          weightMap.put(t.name(), name);
          totalSize += t.byteSize();
        }
      }
      JsonObject index = new JsonObject();
      JsonObject meta = new JsonObject();
      meta.addProperty("total_size", totalSize);
      index.add("metadata", meta);
      JsonObject map = new JsonObject();
      weightMap.forEach(map::addProperty);
      index.add("weight_map", map);
      Files.writeString(dir.resolve(INDEX_FILE), GSON.toJson(index) + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CheckpointException("dir " + dir + ": cannot write sharded checkpoint: " + e.getMessage(), e);
    }
    return written;
  }

  /**
   * Writes {@code model.safetensors} when all tensors fit one shard of {@code maxShardBytes}, otherwise
   * shards plus the index, matching the layout {@code save_pretrained} produces.
   */
  public static void writeCheckpointTensors(
      Path dir, List<TensorData> tensors, long maxShardBytes, Map<String, String> metadata) {
    if (pack(tensors, maxShardBytes).size() > 1) {
      write(dir, tensors, maxShardBytes, metadata);
      return;
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new CheckpointException("dir " + dir + ": cannot create: " + e.getMessage(), e);
    }
    SafeTensors.write(dir.resolve(SINGLE_FILE), tensors, metadata);
  }

  /** The tensors of a checkpoint directory: {@code model.safetensors} if present, else the sharded index. */
  public static Map<String, TensorData> readCheckpointTensors(Path dir) {
    Path single = dir.resolve(SINGLE_FILE);
    if (Files.isRegularFile(single)) {
      return SafeTensors.read(single).tensors();
    }
    if (Files.isRegularFile(dir.resolve(INDEX_FILE))) {
      return read(dir);
    }
    throw new CheckpointException("dir " + dir + ": has neither " + SINGLE_FILE + " nor " + INDEX_FILE);
  }

  private static List<List<TensorData>> pack(List<TensorData> tensors, long maxShardBytes) {
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
    }
    List<List<TensorData>> groups = new ArrayList<>();
    List<TensorData> current = new ArrayList<>();
    long currentBytes = 0;
    for (TensorData t : tensors) {
      if (!current.isEmpty() && currentBytes + t.byteSize() > maxShardBytes) {
        groups.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
      current.add(t);
      currentBytes += t.byteSize();
    }
    // An empty tensor list still yields one (empty) shard so the index always points somewhere valid.
    groups.add(current);
    return groups;
  }
}
