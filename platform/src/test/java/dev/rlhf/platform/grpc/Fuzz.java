package dev.rlhf.platform.grpc;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * Seeded random field values for fuzzing request messages, a third of them at the edges where bugs live (0, -1,
 * MIN_VALUE, MAX_VALUE, NaN, infinities, empty strings, controls, NUL). A fixed seed makes a failure
 * reproducible; the failing value is in the assertion message.
 */
public final class Fuzz {
    private static final int[] INT_EDGES = {0, 1, -1, 2, Integer.MIN_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE - 1,
        Integer.MIN_VALUE + 1, 1 << 16, 1 << 20, 1 << 30, -(1 << 30)};
    private static final long[] LONG_EDGES = {0, 1, -1, Long.MIN_VALUE, Long.MAX_VALUE};
    private static final float[] FLOAT_EDGES = {0f, -0f, 1f, -1f, 0.5f, Float.NaN, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, 1e-30f, 2f};

    private final SplittableRandom random;

    public Fuzz(long seed) {
        this.random = new SplittableRandom(seed);
    }

    public boolean bool() {
        return random.nextBoolean();
    }

    /** Uniform in [lo, hi]. */
    public int between(int lo, int hi) {
        return lo + random.nextInt(hi - lo + 1);
    }

    /** An edge value, a small one in [-5, 20] or any int, a third each. */
    public int anyInt() {
        return switch (random.nextInt(3)) {
            case 0 -> INT_EDGES[random.nextInt(INT_EDGES.length)];
            case 1 -> between(-5, 20);
            default -> random.nextInt();
        };
    }

    /** Half of the time in [lo, hi] (a plausible value), else {@link #anyInt}. */
    public int plausibleOrAny(int lo, int hi) {
        return random.nextBoolean() ? between(lo, hi) : anyInt();
    }

    public long anyLong() {
        return random.nextInt(3) == 0 ? LONG_EDGES[random.nextInt(LONG_EDGES.length)] : random.nextLong();
    }

    /** An edge value (NaN and the infinities among them), a value in [-2, 2] or any bit pattern. */
    public float anyFloat() {
        return switch (random.nextInt(3)) {
            case 0 -> FLOAT_EDGES[random.nextInt(FLOAT_EDGES.length)];
            case 1 -> (float) (random.nextDouble() * 4 - 2);
            default -> Float.intBitsToFloat(random.nextInt());
        };
    }

    /** Empty, ASCII, or any BMP characters (controls, NUL) and emoji pairs, up to maxLength. */
    public String anyString(int maxLength) {
        int length = random.nextInt(4) == 0 ? 0 : random.nextInt(maxLength + 1);
        StringBuilder sb = new StringBuilder(length);
        boolean ascii = random.nextBoolean();
        while (sb.length() < length) {
            if (ascii) {
                sb.append((char) between(32, 126));
            } else if (random.nextInt(8) == 0) {
                sb.appendCodePoint(0x1F600 + random.nextInt(64)); // a surrogate pair
            } else {
                char c = (char) random.nextInt(0x10000); // controls and NUL included
                // An unpaired surrogate cannot reach a server: the client's protobuf encoder sends '?' (and logs).
                sb.append(Character.isSurrogate(c) ? '?' : c);
            }
        }
        return sb.toString();
    }

    public <T> List<T> listOf(int maxSize, Supplier<T> element) {
        int size = random.nextInt(maxSize + 1);
        List<T> out = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            out.add(element.get());
        }
        return out;
    }
}
