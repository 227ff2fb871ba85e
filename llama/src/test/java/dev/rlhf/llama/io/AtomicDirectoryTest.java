package dev.rlhf.llama.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicDirectoryTest {

  @TempDir Path parent;

  private static List<String> children(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** Writes a minimal checkpoint (a weights file and its manifest) at {@code step}. */
  private static IoConsumer<Path> checkpoint(long step, String content) {
    return dir -> {
      Files.writeString(dir.resolve("model.safetensors"), content);
      Files.createDirectories(dir.resolve("optimizer"));
      Files.writeString(dir.resolve("optimizer/state.bin"), "state " + step);
      Manifest.create(dir, step, new JsonObject()).write(dir);
    };
  }

  @Test
  void successfulWriteProducesTheTargetWithItsContentsAndNoTempDir() throws IOException {
    Path target = parent.resolve("step-100");
    Path result = AtomicDirectory.write(target, checkpoint(100, "weights"));

    assertEquals(target.toAbsolutePath().normalize(), result);
    assertEquals("weights", Files.readString(target.resolve("model.safetensors")));
    assertEquals("state 100", Files.readString(target.resolve("optimizer/state.bin")));
    assertEquals(List.of("step-100"), children(parent));
    assertTrue(AtomicDirectory.isComplete(target));
  }

  @Test
  void aWriterThatThrowsLeavesNoTargetAndNoTempDir() throws IOException {
    Path target = parent.resolve("step-1");
    IllegalStateException boom = new IllegalStateException("disk full (simulated)");
    IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> AtomicDirectory.write(target, dir -> {
      Files.writeString(dir.resolve("model.safetensors"), "half written");
      throw boom;
    }));
    assertSame(boom, thrown, "the writer's own exception reaches the caller");
    assertFalse(Files.exists(target));
    assertEquals(List.of(), children(parent), "temp dir removed");

    CheckpointException wrapped = assertThrows(CheckpointException.class, () -> AtomicDirectory.write(target, dir -> {
      throw new IOException("no space left on device");
    }));
    assertTrue(wrapped.getMessage().contains("step-1") && wrapped.getMessage().contains("no space left"), wrapped.getMessage());
    assertEquals(List.of(), children(parent));
  }

  @Test
  void anExistingTargetIsAnErrorUnlessReplaceIsGiven() throws IOException {
    Path target = parent.resolve("latest");
    AtomicDirectory.write(target, checkpoint(1, "old weights"));

    CheckpointException e = assertThrows(CheckpointException.class,
        () -> AtomicDirectory.write(target, checkpoint(2, "new weights")));
    assertTrue(e.getMessage().contains("latest") && e.getMessage().contains("exists"), e.getMessage());
    assertEquals("old weights", Files.readString(target.resolve("model.safetensors")), "old one untouched");

    AtomicDirectory.write(target, true, checkpoint(2, "new weights"));
    assertEquals("new weights", Files.readString(target.resolve("model.safetensors")));
    assertEquals(2, Manifest.read(target).step());
    assertEquals(List.of("latest"), children(parent), "old copy and temp dir deleted");
  }

  @Test
  void aFailedReplaceKeepsTheOldTarget() throws IOException {
    Path target = parent.resolve("latest");
    AtomicDirectory.write(target, checkpoint(1, "old weights"));
    assertThrows(IllegalStateException.class, () -> AtomicDirectory.write(target, true, dir -> {
      throw new IllegalStateException("crash mid-write");
    }));
    assertEquals("old weights", Files.readString(target.resolve("model.safetensors")));
    assertTrue(AtomicDirectory.isComplete(target));
    assertEquals(List.of("latest"), children(parent));
  }

  @Test
  void listCompleteCheckpointsSkipsTempAndCorruptDirsAndSortsByStep() throws IOException {
    // Names sort opposite to steps, so sorting by name would fail the assertion below.
    AtomicDirectory.write(parent.resolve("a-late"), checkpoint(300, "w300"));
    AtomicDirectory.write(parent.resolve("b-early"), checkpoint(20, "w20"));
    AtomicDirectory.write(parent.resolve("c-middle"), checkpoint(100, "w100"));

    // A complete-looking checkpoint under a temp name, as a crash just before the rename leaves it.
    Path temp = Files.createDirectory(parent.resolve(".d.tmp-1a2b3c"));
    checkpoint(999, "w999").accept(temp);
    assertTrue(AtomicDirectory.isComplete(temp), "its manifest verifies, so only the name excludes it");

    Path corrupt = AtomicDirectory.write(parent.resolve("e-corrupt"), checkpoint(500, "w500"));
    Files.writeString(corrupt.resolve("model.safetensors"), "w50X");
    Files.createDirectory(parent.resolve("f-no-manifest"));
    Files.writeString(parent.resolve("g-plain-file"), "not a dir");

    assertFalse(AtomicDirectory.isComplete(corrupt));
    assertFalse(AtomicDirectory.isComplete(parent.resolve("f-no-manifest")));
    assertEquals(List.of(parent.resolve("b-early"), parent.resolve("c-middle"), parent.resolve("a-late")),
        AtomicDirectory.listCompleteCheckpoints(parent));
    assertEquals(List.of(), AtomicDirectory.listCompleteCheckpoints(parent.resolve("absent")));
  }

  @Test
  void deleteLeftoversRemovesOnlyHiddenTempAndOldDirs() throws IOException {
    Files.createDirectories(parent.resolve(".step-1.tmp-abc123/sub"));
    Files.createDirectories(parent.resolve(".step-0.old-ff00"));
    Files.createDirectories(parent.resolve(".keep"));
    AtomicDirectory.write(parent.resolve("step-2"), checkpoint(2, "w"));

    assertEquals(2, AtomicDirectory.deleteLeftovers(parent));
    assertEquals(List.of(".keep", "step-2"), children(parent));
  }

  @Test
  void deleteRecursivelyRemovesATreeAndIgnoresAMissingPath() throws IOException {
    Path tree = Files.createDirectories(parent.resolve("x/y/z"));
    Files.writeString(tree.resolve("f"), "1");
    Files.writeString(parent.resolve("x/g"), "2");
    AtomicDirectory.deleteRecursively(parent.resolve("x"));
    assertFalse(Files.exists(parent.resolve("x")));
    AtomicDirectory.deleteRecursively(parent.resolve("x"));
    assertEquals(List.of(), children(parent));
  }
}
