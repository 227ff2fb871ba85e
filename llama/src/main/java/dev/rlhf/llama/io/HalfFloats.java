package dev.rlhf.llama.io;

/** Conversions between {@code float} and the 16-bit IEEE half (F16) and bfloat16 (BF16) encodings, rounding to nearest-even. */
public final class HalfFloats {

  private HalfFloats() {}

  /** Widens IEEE binary16 bits to float; exact for every input, subnormals, infinities and NaN included. */
  public static float halfToFloat(short half) {
    int h = half & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0x1f) {
      // Keeps NaN payload bits so a NaN stays a NaN (mantissa != 0) and infinity stays infinity.
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      // Subnormal half = mantissa * 2^-24; both factors are exact in float, so the product is too.
      float magnitude = Math.scalb((float) mantissa, -24);
      return sign != 0 ? -magnitude : magnitude;
    }
    // Rebias the exponent from 15 to 127.
    return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }

  /** Narrows a float to IEEE binary16 bits, rounding to nearest-even; overflow gives infinity, underflow signed zero. */
  public static short floatToHalf(float value) {
    int bits = Float.floatToRawIntBits(value);
    int sign = (bits >>> 16) & 0x8000;
    int exponent = (bits >>> 23) & 0xff;
    int mantissa = bits & 0x7fffff;

    if (exponent == 0xff) {
      if (mantissa == 0) {
        return (short) (sign | 0x7c00);
      }
      // Forces the quiet bit so payloads whose set bits are all below the cut do not turn into infinity.
      return (short) (sign | 0x7e00 | (mantissa >>> 13));
    }

    int halfExponent = exponent - 127 + 15;
    if (halfExponent >= 0x1f) {
      return (short) (sign | 0x7c00);
    }
    if (halfExponent <= 0) {
      // Half subnormal: value / 2^-24, taken from the 24-bit significand shifted right by 14 - halfExponent.
      int shift = 14 - halfExponent;
      if (shift > 24) {
        // Below half of the smallest subnormal (2^-25), so it rounds to zero.
        return (short) sign;
      }
      int significand = mantissa | 0x800000;
      int result = significand >>> shift;
      int remainder = significand & ((1 << shift) - 1);
      int halfway = 1 << (shift - 1);
      if (remainder > halfway || (remainder == halfway && (result & 1) != 0)) {
        // A carry to 0x400 is the smallest normal half, which is the right answer.
        result++;
      }
      return (short) (sign | result);
    }

    int result = (halfExponent << 10) | (mantissa >>> 13);
    int remainder = mantissa & 0x1fff;
    if (remainder > 0x1000 || (remainder == 0x1000 && (result & 1) != 0)) {
      // A mantissa carry rolls into the exponent; at the top that yields 0x7c00, infinity, as IEEE requires.
      result++;
    }
    return (short) (sign | result);
  }

  /** Widens bfloat16 bits to float; exact, since bfloat16 is the top half of a float. */
  public static float bf16ToFloat(short bf16) {
    return Float.intBitsToFloat((bf16 & 0xffff) << 16);
  }

  /** Narrows a float to bfloat16 bits, rounding to nearest-even (as PyTorch does); NaN stays NaN. */
  public static short floatToBf16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if ((bits & 0x7f800000) == 0x7f800000 && (bits & 0x7fffff) != 0) {
      // Truncating could clear every set mantissa bit and produce infinity; the quiet bit keeps it NaN.
      return (short) ((bits >>> 16) | 0x0040);
    }
    int roundingBias = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + roundingBias) >>> 16);
  }
}
