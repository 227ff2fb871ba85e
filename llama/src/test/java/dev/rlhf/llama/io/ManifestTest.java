package dev.rlhf.llama.io;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {

  @TempDir Path dir;

  private void writeCheckpointFiles() throws IOException {
    Files.writeString(dir.resolve("config.json"), "{\"dim\": 288}");
    SafeTensors.write(dir.resolve("model.safetensors"),
        List.of(TensorData.ofFloats("model.norm.weight", new long[] {3}, new float[] {1, 2, 3})));
    Files.createDirectories(dir.resolve("optimizer"));
    Files.writeString(dir.resolve("optimizer/state.bin"), "adam moments");
  }

  private static JsonObject offsets() {
    JsonObject meta = new JsonObject();
    JsonObject kafka = new JsonObject();
    kafka.addProperty("rlhf.samples-0", 1234L);
    meta.add("offsets", kafka);
    meta.addProperty("model", "policy");
    return meta;
  }

  @Test
  void sha256MatchesKnownVectorsAndStreamsLargeFiles() throws Exception {
    Path abc = Files.writeString(dir.resolve("abc.txt"), "abc");
    assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Manifest.sha256(abc));
    Path empty = Files.write(dir.resolve("empty"), new byte[0]);
    assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Manifest.sha256(empty));

    // Larger than the 1 MiB buffer and not a multiple of it, so several reads and a partial one happen.
    byte[] big = new byte[(1 << 20) * 2 + 12345];
    new Random(7).nextBytes(big);
    Path bigFile = Files.write(dir.resolve("big.bin"), big);
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(big));
    assertEquals(expected, Manifest.sha256(bigFile));
  }

  @Test
  void createWriteReadVerifyRoundTrips() throws IOException {
    writeCheckpointFiles();
    Manifest created = Manifest.create(dir, 1200, offsets());
    created.write(dir);

    assertEquals(List.of("config.json", "model.safetensors", "optimizer/state.bin"), List.copyOf(created.files().keySet()),
        "every file but manifest.json, relative with '/', sorted");
    assertEquals(Manifest.sha256(dir.resolve("config.json")), created.files().get("config.json"));

    Manifest read = Manifest.read(dir);
    assertEquals(1200, read.step());
    assertEquals(created.files(), read.files());
    assertEquals(offsets(), read.metadata());
    assertEquals(1234L, read.metadata().getAsJsonObject("offsets").get("rlhf.samples-0").getAsLong());
    assertDoesNotThrow(() -> read.verify(dir));

    String text = Files.readString(dir.resolve(Manifest.FILE_NAME), StandardCharsets.UTF_8);
    assertTrue(text.contains("\"format\": 1"), text);
    assertFalse(Files.exists(dir.resolve(Manifest.FILE_NAME + ".tmp")), "no temp file left behind");

    // Writing the manifest must not change what a fresh create() would hash.
    assertEquals(created.files(), Manifest.create(dir, 0, null).files());
  }

  @Test
  void flippingOneByteFailsVerifyNamingThatFile() throws IOException {
    writeCheckpointFiles();
    Manifest.create(dir, 5, new JsonObject()).write(dir);
    Path model = dir.resolve("model.safetensors");
    byte[] bytes = Files.readAllBytes(model);
    bytes[bytes.length - 1] ^= 0x01;
    Files.write(model, bytes);

    Manifest m = Manifest.read(dir);
    CheckpointException e = assertThrows(CheckpointException.class, () -> m.verify(dir));
    assertTrue(e.getMessage().contains("'model.safetensors'"), e.getMessage());
    assertTrue(e.getMessage().contains("sha256"), e.getMessage());
  }

  @Test
  void deletingAFileFailsVerifyNamingThatFile() throws IOException {
    writeCheckpointFiles();
    Manifest.create(dir, 5, new JsonObject()).write(dir);
    Files.delete(dir.resolve("optimizer/state.bin"));

    CheckpointException e = assertThrows(CheckpointException.class, () -> Manifest.read(dir).verify(dir));
    assertTrue(e.getMessage().contains("'optimizer/state.bin'") && e.getMessage().contains("missing"), e.getMessage());
  }

  @Test
  void readRejectsUnknownFormatAndPathsOutsideTheDirectory() throws IOException {
    Path file = dir.resolve(Manifest.FILE_NAME);
    Files.writeString(file, "{\"format\": 2, \"step\": 1, \"files\": {}}");
    CheckpointException e = assertThrows(CheckpointException.class, () -> Manifest.read(dir));
    assertTrue(e.getMessage().contains("format 2"), e.getMessage());

    String hash = "0".repeat(64);
    Files.writeString(file, "{\"format\": 1, \"step\": 1, \"files\": {\"../secret\": \"" + hash + "\"}}");
    e = assertThrows(CheckpointException.class, () -> Manifest.read(dir));
    assertTrue(e.getMessage().contains("'../secret'"), e.getMessage());

    Files.writeString(file, "{\"format\": 1, \"files\": {}}");
    e = assertThrows(CheckpointException.class, () -> Manifest.read(dir));
    assertTrue(e.getMessage().contains("manifest.json") && e.getMessage().contains("'step'"), e.getMessage());

    Files.delete(file);
    e = assertThrows(CheckpointException.class, () -> Manifest.read(dir));
    assertTrue(e.getMessage().contains("manifest.json"), e.getMessage());
  }
}
