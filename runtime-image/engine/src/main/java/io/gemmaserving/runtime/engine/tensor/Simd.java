package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector species shared by the kernels, and little-endian accessors for the mapped bytes.
 *
 * <p>{@link #F} is the preferred float species (16 lanes with AVX-512, 8 with AVX2); {@link #B}, {@link #S} and
 * {@link #I} have the same number of lanes, so a load of {@code L} quantized bytes casts lane for lane onto one
 * float vector. Quantized kernels need at least 8 lanes (and a 32-element block must be a whole number of
 * vectors); with fewer they fall back to dequantize-then-dot.
 */
public final class Simd {

    /** The float species: the preferred one, or 256/512 bits when the system property {@code gemma.simd.bits} says so. */
    public static final VectorSpecies<Float> F = floatSpecies(Integer.getInteger("gemma.simd.bits", 0));
    public static final int L = F.length();
    /** True when the quantized kernels can use {@link #B}: 8 or 16 float lanes. */
    public static final boolean QUANT_OK = L == 8 || L == 16;
    public static final VectorSpecies<Byte> B = QUANT_OK
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : ByteVector.SPECIES_64;
    public static final VectorSpecies<Short> S = QUANT_OK
            ? VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16)) : ShortVector.SPECIES_128;
    public static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    public static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    private Simd() {
    }

    private static VectorSpecies<Float> floatSpecies(int bits) {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        if (bits == 256 && preferred.vectorBitSize() >= 256) {
            return FloatVector.SPECIES_256;
        }
        if (bits == 128) {
            return FloatVector.SPECIES_128;
        }
        return preferred;
    }

    /** IEEE half at byte offset {@code off}. */
    static float f16(MemorySegment s, long off) {
        return Float.float16ToFloat(s.get(SHORT, off));
    }

    static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    static int i8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off);
    }

    static long i64(MemorySegment s, long off) {
        return s.get(LONG, off);
    }

    static int i32(MemorySegment s, long off) {
        return s.get(INT, off);
    }

    /** Vector dot product of {@code a[aOff..aOff+n)} and {@code b[bOff..bOff+n)}, four accumulators. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), s2 = FloatVector.zero(F), s3 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 4 * L; i += 4 * L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), s1);
            s2 = FloatVector.fromArray(F, a, aOff + i + 2 * L).fma(FloatVector.fromArray(F, b, bOff + i + 2 * L), s2);
            s3 = FloatVector.fromArray(F, a, aOff + i + 3 * L).fma(FloatVector.fromArray(F, b, bOff + i + 3 * L), s3);
        }
        for (; i <= n - L; i += L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
        }
        float sum = s0.add(s1).add(s2.add(s3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }
}
