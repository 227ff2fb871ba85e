package dev.rlhf.llama.io;

import java.io.IOException;

/** A consumer that may throw {@link IOException}, so writers can use {@code java.nio.file} calls directly. */
@FunctionalInterface
public interface IoConsumer<T> {

  void accept(T value) throws IOException;
}
