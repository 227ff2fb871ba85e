package dev.rlhf.llama.io;

/** A checkpoint file or directory that cannot be read, written or trusted; the message names the file and, where relevant, the tensor. */
public class CheckpointException extends RuntimeException {

  public CheckpointException(String message) {
    super(message);
  }

  public CheckpointException(String message, Throwable cause) {
    super(message, cause);
  }
}
