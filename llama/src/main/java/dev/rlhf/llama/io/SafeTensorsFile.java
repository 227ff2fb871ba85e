package dev.rlhf.llama.io;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** The contents of one safetensors file: its tensors in header order and its {@code __metadata__}. */
public final class SafeTensorsFile {

  private final Path path;
  private final Map<String, TensorData> tensors;
  private final Map<String, String> metadata;

  SafeTensorsFile(Path path, LinkedHashMap<String, TensorData> tensors, LinkedHashMap<String, String> metadata) {
    this.path = path;
    this.tensors = Collections.unmodifiableMap(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  public Path path() {
    return path;
  }

  /** Tensors by name, iterating in the order the header lists them. */
  public Map<String, TensorData> tensors() {
    return tensors;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  public Set<String> names() {
    return tensors.keySet();
  }

  public boolean contains(String name) {
    return tensors.containsKey(name);
  }

  /** The named tensor; a missing one is an error naming the file, because callers load weights by exact name. */
  public TensorData get(String name) {
    TensorData t = tensors.get(name);
    if (t == null) {
      throw new CheckpointException("file " + path.getFileName() + ": no tensor '" + name + "'");
    }
    return t;
  }
}
