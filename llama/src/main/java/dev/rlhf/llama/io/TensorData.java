package dev.rlhf.llama.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor as stored in a safetensors file: dtype, shape and its raw little-endian bytes.
 *
 * <p>The buffer may be a read-only memory mapping of the file, so converting is done on demand
 * rather than at load time.
 */
public record TensorData(String name, DType dtype, long[] shape, ByteBuffer data) {

  public TensorData {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(data, "data");
    shape = shape.clone();
    long expected = Math.multiplyExact(elementCount(shape), dtype.byteSize());
    if (data.remaining() != expected) {
      throw new IllegalArgumentException(
          "tensor '" + name + "' expects " + expected + " bytes (shape " + Arrays.toString(shape)
              + ", " + dtype + ") but got " + data.remaining());
    }
    // slice() resets the byte order to big-endian; safetensors is little-endian.
    data = data.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** A defensive copy, since records expose array components by reference. */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** A read-only little-endian view positioned at the first byte; callers may move its position freely. */
  @Override
  public ByteBuffer data() {
    return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Number of elements: the product of the shape, 1 for a scalar (empty shape). */
  public long numel() {
    return elementCount(shape);
  }

  public long byteSize() {
    return data.remaining();
  }

  /** An F32 tensor holding a copy of {@code values}. */
  public static TensorData ofFloats(String name, long[] shape, float[] values) {
    return ofFloats(name, shape, values, DType.F32);
  }

  /** A floating-point tensor of {@code dtype}; F16 and BF16 round to nearest-even, F64 widens exactly. */
  public static TensorData ofFloats(String name, long[] shape, float[] values, DType dtype) {
    requireCount(name, shape, values.length);
    ByteBuffer buf = allocate(values.length, dtype);
    switch (dtype) {
      case F32 -> buf.asFloatBuffer().put(values);
      case F64 -> {
        DoubleBuffer out = buf.asDoubleBuffer();
        for (float v : values) {
          out.put(v);
        }
      }
      case F16 -> {
        ShortBuffer out = buf.asShortBuffer();
        for (float v : values) {
          out.put(HalfFloats.floatToHalf(v));
        }
      }
      case BF16 -> {
        ShortBuffer out = buf.asShortBuffer();
        for (float v : values) {
          out.put(HalfFloats.floatToBf16(v));
        }
      }
      default -> throw new IllegalArgumentException(
          "tensor '" + name + "': ofFloats needs a floating-point dtype, got " + dtype + "; use ofLongs");
    }
    return new TensorData(name, dtype, shape, buf);
  }

  /** An integer tensor (I64, I32, I16, I8, U8 or BOOL); values outside the dtype's range are rejected. */
  public static TensorData ofLongs(String name, long[] shape, long[] values, DType dtype) {
    requireCount(name, shape, values.length);
    ByteBuffer buf = allocate(values.length, dtype);
    for (long v : values) {
      switch (dtype) {
        case I64 -> buf.putLong(v);
        case I32 -> buf.putInt((int) checkRange(name, dtype, v, Integer.MIN_VALUE, Integer.MAX_VALUE));
        case I16 -> buf.putShort((short) checkRange(name, dtype, v, Short.MIN_VALUE, Short.MAX_VALUE));
        case I8 -> buf.put((byte) checkRange(name, dtype, v, Byte.MIN_VALUE, Byte.MAX_VALUE));
        case U8 -> buf.put((byte) checkRange(name, dtype, v, 0, 255));
        case BOOL -> buf.put((byte) checkRange(name, dtype, v, 0, 1));
        default -> throw new IllegalArgumentException(
            "tensor '" + name + "': ofLongs needs an integer dtype, got " + dtype + "; use ofFloats");
      }
    }
    buf.flip();
    return new TensorData(name, dtype, shape, buf);
  }

  /** The elements as floats: F32 exactly, F16/BF16 widened exactly, F64 rounded to float. */
  public float[] toFloatArray() {
    float[] out = new float[checkedLength()];
    ByteBuffer src = data();
    switch (dtype) {
      case F32 -> src.asFloatBuffer().get(out);
      case F64 -> {
        DoubleBuffer in = src.asDoubleBuffer();
        for (int i = 0; i < out.length; i++) {
          out[i] = (float) in.get(i);
        }
      }
      case F16 -> {
        ShortBuffer in = src.asShortBuffer();
        for (int i = 0; i < out.length; i++) {
          out[i] = HalfFloats.halfToFloat(in.get(i));
        }
      }
      case BF16 -> {
        ShortBuffer in = src.asShortBuffer();
        for (int i = 0; i < out.length; i++) {
          out[i] = HalfFloats.bf16ToFloat(in.get(i));
        }
      }
      // Silently turning ids or masks into floats would hide a wrong tensor being loaded as weights.
      default -> throw new CheckpointException(
          "tensor '" + name + "' has integer dtype " + dtype + "; read it with toLongArray()");
    }
    return out;
  }

  /** The elements of an integer tensor (I64, I32, I16, I8, U8 as unsigned, BOOL as 0/1) as longs. */
  public long[] toLongArray() {
    long[] out = new long[checkedLength()];
    ByteBuffer src = data();
    switch (dtype) {
      case I64 -> src.asLongBuffer().get(out);
      case I32 -> {
        IntBuffer in = src.asIntBuffer();
        for (int i = 0; i < out.length; i++) {
          out[i] = in.get(i);
        }
      }
      case I16 -> {
        ShortBuffer in = src.asShortBuffer();
        for (int i = 0; i < out.length; i++) {
          out[i] = in.get(i);
        }
      }
      case I8 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = src.get(i);
        }
      }
      case U8, BOOL -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = src.get(i) & 0xff;
        }
      }
      default -> throw new CheckpointException(
          "tensor '" + name + "' has floating-point dtype " + dtype + "; read it with toFloatArray()");
    }
    return out;
  }

  /** Compares name, dtype, shape and bytes, since the record default would compare the shape array by identity. */
  @Override
  public boolean equals(Object o) {
    return o instanceof TensorData t
        && name.equals(t.name)
        && dtype == t.dtype
        && Arrays.equals(shape, t.shape)
        && data.equals(t.data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape), data);
  }

  @Override
  public String toString() {
    return "TensorData[" + name + ", " + dtype + ", " + Arrays.toString(shape) + "]";
  }

  static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  private int checkedLength() {
    long n = numel();
    if (n > Integer.MAX_VALUE - 8) {
      throw new CheckpointException(
          "tensor '" + name + "' has " + n + " elements, more than a Java array holds");
    }
    return (int) n;
  }

  private static void requireCount(String name, long[] shape, int count) {
    long expected = elementCount(shape);
    if (expected != count) {
      throw new IllegalArgumentException(
          "tensor '" + name + "': shape " + Arrays.toString(shape) + " holds " + expected
              + " elements but " + count + " values were given");
    }
  }

  private static ByteBuffer allocate(int count, DType dtype) {
    return ByteBuffer.allocate(Math.multiplyExact(count, dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static long checkRange(String name, DType dtype, long v, long min, long max) {
    if (v < min || v > max) {
      throw new IllegalArgumentException("tensor '" + name + "': value " + v + " does not fit " + dtype);
    }
    return v;
  }
}
