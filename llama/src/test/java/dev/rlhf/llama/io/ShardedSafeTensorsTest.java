package dev.rlhf.llama.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedSafeTensorsTest {

  @TempDir Path tmp;

  /** Five tensors of 40, 40, 24, 48 and 8 bytes, with distinct values so a mix-up would show. */
  private static List<TensorData> tensors() {
    List<TensorData> out = new ArrayList<>();
    out.add(floats("model.embed_tokens.weight", new long[] {5, 2}, 0f, DType.F32));
    out.add(floats("model.layers.0.self_attn.q_proj.weight", new long[] {2, 5}, 100f, DType.F32));
    out.add(floats("model.layers.0.input_layernorm.weight", new long[] {12}, 200f, DType.F16));
    out.add(floats("lm_head.weight", new long[] {3, 4}, 300f, DType.F32));
    out.add(floats("model.norm.weight", new long[] {4}, 400f, DType.BF16));
    return out;
  }

  private static TensorData floats(String name, long[] shape, float base, DType dtype) {
    float[] v = new float[(int) TensorData.elementCount(shape)];
    for (int i = 0; i < v.length; i++) {
      v[i] = base + i;
    }
    return TensorData.ofFloats(name, shape, v, dtype);
  }

  @Test
  void smallShardLimitWritesSeveralShardsAndAnIndexThatReadBackIdentically() throws IOException {
    List<TensorData> in = tensors();
    List<Path> shards = ShardedSafeTensors.write(tmp, in, 64, Map.of("format", "pt"));

    // Greedy packing at 64 bytes: [40] [40, 24] [48, 8].
    assertEquals(3, shards.size());
    assertEquals(List.of(tmp.resolve("model-00001-of-00003.safetensors"), tmp.resolve("model-00002-of-00003.safetensors"),
        tmp.resolve("model-00003-of-00003.safetensors")), shards);
    for (Path shard : shards) {
      assertTrue(Files.isRegularFile(shard), shard.toString());
      assertEquals(Map.of("format", "pt"), SafeTensors.read(shard).metadata());
    }
    assertEquals(List.of("model.layers.0.self_attn.q_proj.weight", "model.layers.0.input_layernorm.weight"),
        List.copyOf(SafeTensors.read(shards.get(1)).names()));

    JsonObject index = JsonParser.parseString(
        Files.readString(tmp.resolve(ShardedSafeTensors.INDEX_FILE), StandardCharsets.UTF_8)).getAsJsonObject();
    assertEquals(40 + 40 + 24 + 48 + 8, index.getAsJsonObject("metadata").get("total_size").getAsLong());
    assertEquals("model-00003-of-00003.safetensors",
        index.getAsJsonObject("weight_map").get("model.norm.weight").getAsString());
    assertEquals(160, ShardedSafeTensors.readIndex(tmp).totalSize());

    Map<String, TensorData> out = ShardedSafeTensors.read(tmp);
    assertEquals(in.stream().map(TensorData::name).toList(), List.copyOf(out.keySet()));
    for (TensorData t : in) {
      TensorData r = out.get(t.name());
      assertEquals(t, r, t.name());
      assertArrayEquals(t.toFloatArray(), r.toFloatArray(), t.name());
    }
    assertEquals(out, ShardedSafeTensors.readCheckpointTensors(tmp), "falls back to the index without model.safetensors");
  }

  @Test
  void aTensorLargerThanTheLimitGetsAShardOfItsOwn() {
    List<Path> shards = ShardedSafeTensors.write(tmp, tensors(), 10, Map.of());
    assertEquals(5, shards.size());
    assertEquals("model-00005-of-00005.safetensors", shards.get(4).getFileName().toString());
    assertEquals(5, ShardedSafeTensors.read(tmp).size());
  }

  @Test
  void missingShardFileIsNamed() throws IOException {
    ShardedSafeTensors.write(tmp, tensors(), 64, Map.of());
    Files.delete(tmp.resolve("model-00002-of-00003.safetensors"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> ShardedSafeTensors.read(tmp));
    assertTrue(e.getMessage().contains("model-00002-of-00003.safetensors"), e.getMessage());
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void tensorListedInIndexButAbsentFromItsShardNamesBoth() throws IOException {
    ShardedSafeTensors.write(tmp, tensors(), 64, Map.of());
    Path indexFile = tmp.resolve(ShardedSafeTensors.INDEX_FILE);
    JsonObject index = JsonParser.parseString(Files.readString(indexFile)).getAsJsonObject();
    index.getAsJsonObject("weight_map").addProperty("model.layers.1.mlp.up_proj.weight", "model-00001-of-00003.safetensors");
    Files.writeString(indexFile, index.toString());
    CheckpointException e = assertThrows(CheckpointException.class, () -> ShardedSafeTensors.read(tmp));
    assertTrue(e.getMessage().contains("'model.layers.1.mlp.up_proj.weight'"), e.getMessage());
    assertTrue(e.getMessage().contains("model-00001-of-00003.safetensors"), e.getMessage());
  }

  @Test
  void indexEntriesThatLeaveTheDirectoryAreRejected() throws IOException {
    Files.writeString(tmp.resolve(ShardedSafeTensors.INDEX_FILE),
        "{\"weight_map\": {\"w\": \"../elsewhere.safetensors\"}}");
    CheckpointException e = assertThrows(CheckpointException.class, () -> ShardedSafeTensors.read(tmp));
    assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("../elsewhere.safetensors"), e.getMessage());
  }

  @Test
  void readCheckpointTensorsPrefersTheSingleFile() throws IOException {
    Path single = Files.createDirectory(tmp.resolve("single"));
    ShardedSafeTensors.writeCheckpointTensors(single, tensors(), 1 << 20, Map.of());
    assertTrue(Files.isRegularFile(single.resolve(ShardedSafeTensors.SINGLE_FILE)));
    assertFalse(Files.exists(single.resolve(ShardedSafeTensors.INDEX_FILE)), "everything fits one file");
    assertEquals(5, ShardedSafeTensors.readCheckpointTensors(single).size());

    Path sharded = Files.createDirectory(tmp.resolve("sharded"));
    ShardedSafeTensors.writeCheckpointTensors(sharded, tensors(), 64, Map.of());
    assertFalse(Files.exists(sharded.resolve(ShardedSafeTensors.SINGLE_FILE)));
    assertEquals(ShardedSafeTensors.readCheckpointTensors(single), ShardedSafeTensors.readCheckpointTensors(sharded));

    Path empty = Files.createDirectory(tmp.resolve("empty"));
    CheckpointException e = assertThrows(CheckpointException.class, () -> ShardedSafeTensors.readCheckpointTensors(empty));
    assertTrue(e.getMessage().contains("empty") && e.getMessage().contains(ShardedSafeTensors.INDEX_FILE), e.getMessage());
  }
}
