package dev.rlhf.llama.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HalfFloatsTest {

  private static int half(float f) {
    return HalfFloats.floatToHalf(f) & 0xffff;
  }

  private static int bf16(float f) {
    return HalfFloats.floatToBf16(f) & 0xffff;
  }

  @Test
  void floatToHalfEncodesHandComputedValues() {
    assertEquals(0x3C00, half(1.0f));
    assertEquals(0xC000, half(-2.0f));
    assertEquals(0x3800, half(0.5f));
    assertEquals(0x0000, half(0.0f));
    assertEquals(0x8000, half(-0.0f));
    assertEquals(0x7BFF, half(65504f), "largest finite half");
    assertEquals(0x0400, half(0x1p-14f), "smallest normal half");
    assertEquals(0x0001, half(0x1p-24f), "smallest subnormal half");
    assertEquals(0x03FF, half(1023 * 0x1p-24f), "largest subnormal half");
    assertEquals(0x7C00, half(Float.POSITIVE_INFINITY));
    assertEquals(0xFC00, half(Float.NEGATIVE_INFINITY));
  }

  @Test
  void floatToHalfRoundsToNearestEven() {
    // 1 + 2^-11 lies exactly between 0x3C00 (1.0) and 0x3C01; the even one wins.
    assertEquals(0x3C00, half(1.0f + 0x1p-11f));
    // 1 + 3*2^-11 lies exactly between 0x3C01 and 0x3C02; the even one wins.
    assertEquals(0x3C02, half(1.0f + 3 * 0x1p-11f));
    // Just above the midpoint rounds up.
    assertEquals(0x3C01, half(1.0f + 0x1p-11f + 0x1p-20f));
    // Subnormal ties: 2^-25 is half the smallest subnormal (to 0), 1.5 * 2^-24 goes to 2 * 2^-24.
    assertEquals(0x0000, half(0x1p-25f));
    assertEquals(0x0002, half(1.5f * 0x1p-24f));
    assertEquals(0x0001, half(0.75f * 0x1p-24f));
    // 65519 rounds down to the max half; 65520 is the midpoint to 65536 and rounds (to even) to infinity.
    assertEquals(0x7BFF, half(65519f));
    assertEquals(0x7C00, half(65520f));
    assertEquals(0x7C00, half(1e10f));
    assertEquals(0x8000, half(-1e-10f), "underflow keeps the sign");
  }

  @Test
  void floatToHalfKeepsNaN() {
    int h = half(Float.NaN);
    assertEquals(0x7C00, h & 0x7C00, "exponent all ones");
    assertTrue((h & 0x03FF) != 0, "non-zero mantissa, so NaN rather than infinity");
    // A NaN whose payload lives only in the low 13 bits would truncate to infinity without the quiet bit.
    float lowPayloadNaN = Float.intBitsToFloat(0x7F800001);
    assertTrue(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(lowPayloadNaN))));
  }

  @Test
  void halfToFloatDecodesHandComputedValues() {
    assertEquals(1.0f, HalfFloats.halfToFloat((short) 0x3C00));
    assertEquals(-2.0f, HalfFloats.halfToFloat((short) 0xC000));
    assertEquals(65504f, HalfFloats.halfToFloat((short) 0x7BFF));
    assertEquals(0x1p-24f, HalfFloats.halfToFloat((short) 0x0001));
    assertEquals(1023 * 0x1p-24f, HalfFloats.halfToFloat((short) 0x03FF));
    assertEquals(-0x1p-24f, HalfFloats.halfToFloat((short) 0x8001));
    assertEquals(0.333251953125f, HalfFloats.halfToFloat((short) 0x3555));
    assertEquals(Float.POSITIVE_INFINITY, HalfFloats.halfToFloat((short) 0x7C00));
    assertEquals(Float.NEGATIVE_INFINITY, HalfFloats.halfToFloat((short) 0xFC00));
    assertTrue(Float.isNaN(HalfFloats.halfToFloat((short) 0x7E00)));
    assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(HalfFloats.halfToFloat((short) 0x8000)));
  }

  @Test
  void everyNonNaNHalfSurvivesARoundTripThroughFloat() {
    for (int h = 0; h <= 0xFFFF; h++) {
      float f = HalfFloats.halfToFloat((short) h);
      if (Float.isNaN(f)) {
        assertTrue(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(f))), "NaN 0x" + Integer.toHexString(h));
      } else {
        assertEquals(h, half(f), "half 0x" + Integer.toHexString(h));
      }
    }
  }

  @Test
  void bf16EncodesAndDecodesHandComputedValues() {
    assertEquals(0x3F80, bf16(1.0f));
    assertEquals(0xC000, bf16(-2.0f));
    assertEquals(0x4040, bf16(3.0f));
    assertEquals(0x7F80, bf16(Float.POSITIVE_INFINITY));
    assertEquals(0xFF80, bf16(Float.NEGATIVE_INFINITY));
    assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.NaN))));
    assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
    assertEquals(1.0f, HalfFloats.bf16ToFloat((short) 0x3F80));
    assertEquals(-2.0f, HalfFloats.bf16ToFloat((short) 0xC000));
    assertEquals(3.140625f, HalfFloats.bf16ToFloat((short) 0x4049));
  }

  @Test
  void bf16RoundsToNearestEven() {
    // 1 + 2^-8 is the midpoint between 0x3F80 and 0x3F81 (bf16 has 7 mantissa bits).
    assertEquals(0x3F80, bf16(1.0f + 0x1p-8f));
    assertEquals(0x3F82, bf16(1.0f + 3 * 0x1p-8f));
    assertEquals(0x3F81, bf16(1.0f + 0x1p-8f + 0x1p-20f));
    // pi = 0x40490FDB: the dropped half 0x0FDB is below the midpoint.
    assertEquals(0x4049, bf16((float) Math.PI));
    assertEquals(0x7F80, bf16(Float.MAX_VALUE), "beyond the largest bf16 plus half an ulp rounds to infinity");
  }
}
