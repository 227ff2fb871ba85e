package dev.rlhf.llama.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a directory all-or-nothing: into a hidden sibling temp directory, fsynced, then renamed onto
 * the target, so readers see either no checkpoint or a complete one.
 */
public final class AtomicDirectory {

  private static final Logger log = LoggerFactory.getLogger(AtomicDirectory.class);

  private static final Pattern LEFTOVER = Pattern.compile("\\..+\\.(tmp|old)-[0-9a-f]+");

  private AtomicDirectory() {}

  /** Writes {@code target}, which must not exist yet. */
  public static Path write(Path target, IoConsumer<Path> writer) {
    return write(target, false, writer);
  }

  /**
   * Calls {@code writer} on a fresh temp directory {@code .<name>.tmp-<random>} next to {@code target},
   * fsyncs everything, then renames it to {@code target}. With {@code replace}, an existing target is first
   * renamed to {@code .<name>.old-<random>} and deleted after the new one is in place; without it an existing
   * target is an error. On failure the temp directory is removed and {@code target} is left as it was.
   * Checking for an existing target and renaming are two steps, so two concurrent writers of one target are
   * not supported.
   *
   * @return the absolute, normalized target path
   */
  public static Path write(Path target, boolean replace, IoConsumer<Path> writer) {
    Path absolute = target.toAbsolutePath().normalize();
    Path parent = absolute.getParent();
    if (parent == null) {
      throw new CheckpointException("dir " + target + ": has no parent directory to stage in");
    }
    String name = absolute.getFileName().toString();
    if (!replace && Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
      throw new CheckpointException("dir " + absolute + ": already exists (pass replace=true to overwrite)");
    }

    Path temp = null;
    boolean movedIn = false;
    try {
      Files.createDirectories(parent);
      // Same parent as the target, so the final rename stays within one file system and can be atomic.
      temp = Files.createDirectory(parent.resolve("." + name + ".tmp-" + randomSuffix()));
      writer.accept(temp);
      fsyncTree(temp);
      FaultInjection.beforeRename(temp, absolute);

      if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
        if (!replace) {
          throw new CheckpointException("dir " + absolute + ": appeared while writing (pass replace=true to overwrite)");
        }
        Path old = parent.resolve("." + name + ".old-" + randomSuffix());
        Files.move(absolute, old, StandardCopyOption.ATOMIC_MOVE);
        try {
          Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
          restore(old, absolute, e);
          throw e;
        }
        movedIn = true;
        fsyncDirectory(parent);
        try {
          deleteRecursively(old);
        } catch (CheckpointException e) {
          // The new checkpoint is already in place; a leftover hidden directory is only wasted space.
          log.warn("could not delete replaced checkpoint {}: {}", old, e.getMessage());
        }
      } else {
        Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
        movedIn = true;
        // Makes the rename itself durable, not just the files it points at.
        fsyncDirectory(parent);
      }
      return absolute;
    } catch (IOException e) {
      throw new CheckpointException("dir " + absolute + ": cannot write atomically: " + e.getMessage(), e);
    } finally {
      if (temp != null && !movedIn) {
        deleteQuietly(temp);
      }
    }
  }

  /** True when {@code dir} has a {@code manifest.json} and every file it lists matches its sha256. */
  public static boolean isComplete(Path dir) {
    if (!Files.isRegularFile(dir.resolve(Manifest.FILE_NAME))) {
      return false;
    }
    try {
      Manifest.read(dir).verify(dir);
      return true;
    } catch (CheckpointException e) {
      log.warn("checkpoint {} is not usable: {}", dir, e.getMessage());
      return false;
    }
  }

  /**
   * The complete checkpoints directly under {@code parent}, ordered by manifest step (then name). Hidden
   * directories, which include in-progress temp and replaced-old directories, are never considered.
   */
  public static List<Path> listCompleteCheckpoints(Path parent) {
    return listCompleteCheckpoints(parent, true);
  }

  /**
   * As {@link #listCompleteCheckpoints(Path)}; without {@code verifyFiles} a checkpoint counts as complete when its
   * manifest reads (the atomic rename happened) and its files are not hashed, for callers that only need the
   * order, such as pruning old versions after every step.
   */
  public static List<Path> listCompleteCheckpoints(Path parent, boolean verifyFiles) {
    if (!Files.isDirectory(parent)) {
      return List.of();
    }
    List<Path> children;
    try (Stream<Path> list = Files.list(parent)) {
      children = list
          .filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
          .filter(p -> !p.getFileName().toString().startsWith("."))
          .toList();
    } catch (IOException e) {
      throw new CheckpointException("dir " + parent + ": cannot list: " + e.getMessage(), e);
    }
    record Found(Path dir, long step) {}
    List<Found> found = new ArrayList<>();
    for (Path dir : children) {
      if (!Files.isRegularFile(dir.resolve(Manifest.FILE_NAME))) {
        continue;
      }
      try {
        Manifest manifest = Manifest.read(dir);
        if (verifyFiles) {
          manifest.verify(dir);
        }
        found.add(new Found(dir, manifest.step()));
      } catch (CheckpointException e) {
        log.warn("skipping checkpoint {}: {}", dir, e.getMessage());
      }
    }
    found.sort(Comparator.comparingLong(Found::step).thenComparing(f -> f.dir().getFileName().toString()));
    return found.stream().map(Found::dir).toList();
  }

  /**
   * Deletes the temp and replaced-old directories a crashed writer left under {@code parent} and returns
   * how many; call it only when no writer is running there.
   */
  public static int deleteLeftovers(Path parent) {
    if (!Files.isDirectory(parent)) {
      return 0;
    }
    List<Path> leftovers;
    try (Stream<Path> list = Files.list(parent)) {
      leftovers = list.filter(p -> LEFTOVER.matcher(p.getFileName().toString()).matches()).toList();
    } catch (IOException e) {
      throw new CheckpointException("dir " + parent + ": cannot list: " + e.getMessage(), e);
    }
    leftovers.forEach(AtomicDirectory::deleteRecursively);
    return leftovers.size();
  }

  /** Deletes a file or a directory tree without following symbolic links; a missing path is not an error. */
  public static void deleteRecursively(Path path) {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try {
      Files.walkFileTree(path, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.delete(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
          if (exc != null) {
            throw exc;
          }
          Files.delete(dir);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (NoSuchFileException ignored) {
      // Someone else removed it first; the goal, its absence, is met.
    } catch (IOException e) {
      throw new CheckpointException("path " + path + ": cannot delete: " + e.getMessage(), e);
    }
  }

  private static void restore(Path old, Path target, Exception failure) {
    try {
      Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      failure.addSuppressed(e);
    }
  }

  private static void deleteQuietly(Path dir) {
    try {
      deleteRecursively(dir);
    } catch (CheckpointException e) {
      log.warn("could not delete temp dir {}: {}", dir, e.getMessage());
    }
  }

  private static void fsyncTree(Path root) throws IOException {
    List<Path> all;
    try (Stream<Path> walk = Files.walk(root)) {
      all = walk.toList();
    }
    for (Path p : all) {
      if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
          ch.force(true);
        }
      } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
        fsyncDirectory(p);
      }
    }
  }

  private static void fsyncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some platforms (Windows) cannot open a directory at all; there the rename is as durable as the OS makes it.
      log.debug("cannot fsync directory {}: {}", dir, e.getMessage());
    }
  }

  private static String randomSuffix() {
    return Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
  }
}
