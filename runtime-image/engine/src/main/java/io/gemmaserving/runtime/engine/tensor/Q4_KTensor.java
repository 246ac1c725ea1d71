package io.gemmaserving.runtime.engine.tensor;

import static io.gemmaserving.runtime.engine.tensor.Simd.B;
import static io.gemmaserving.runtime.engine.tensor.Simd.F;
import static io.gemmaserving.runtime.engine.tensor.Simd.I;
import static io.gemmaserving.runtime.engine.tensor.Simd.L;
import static io.gemmaserving.runtime.engine.tensor.Simd.LE;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML_TYPE_Q4_K, super-block of 256 in 144 bytes: {@code fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128]}.
 * Eight sub-blocks of 32, each with a 6-bit scale {@code sc} and 6-bit min {@code m} packed in {@code scales}.
 * Byte group {@code g} (32 bytes of qs) holds sub-block {@code 2g} in its low nibbles and {@code 2g+1} in its
 * high nibbles; {@code y = d * sc * q - dmin * m}.
 */
public final class Q4_KTensor extends AbstractTensor {

    private static final int BYTES = 144;

    public Q4_KTensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q4_K, rows, cols, data);
    }

    /** 6-bit scale of sub-block j (0..7) from the 12 packed bytes at {@code s}. Shared with Q5_K. */
    static int scale(MemorySegment data, long s, int j) {
        return j < 4 ? Simd.u8(data, s + j) & 63
                : (Simd.u8(data, s + j + 4) & 0x0F) | ((Simd.u8(data, s + j - 4) >>> 6) << 4);
    }

    /** 6-bit min of sub-block j (0..7). */
    static int min(MemorySegment data, long s, int j) {
        return j < 4 ? Simd.u8(data, s + j + 4) & 63
                : (Simd.u8(data, s + j + 4) >>> 4) | ((Simd.u8(data, s + j) >>> 6) << 4);
    }

    /**
     * Unpacks the 12 scale bytes (as three little-endian ints u0, u1, u2) into eight 8-bit scales (bytes of the
     * first long) and eight mins (bytes of the second), all sixteen at once in general-purpose registers, the
     * way ggml's x86 kernels do with {@code utmp}: scales 0-3 are the low 6 bits of bytes 0-3, scales 4-7 the low
     * nibbles of bytes 8-11 with the top 2 bits of bytes 0-3; mins likewise from bytes 4-7 and the high nibbles.
     */
    static long scales(int u0, int u1, int u2) {
        int sc0 = u0 & 0x3F3F3F3F;
        int sc1 = (u2 & 0x0F0F0F0F) | (((u0 >>> 6) & 0x03030303) << 4);
        return (sc0 & 0xFFFFFFFFL) | ((long) sc1 << 32);
    }

    static long mins(int u0, int u1, int u2) {
        int m0 = u1 & 0x3F3F3F3F;
        int m1 = ((u2 >>> 4) & 0x0F0F0F0F) | (((u1 >>> 6) & 0x03030303) << 4);
        return (m0 & 0xFFFFFFFFL) | ((long) m1 << 32);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        float dmin = Simd.f16(data, bo + 2);
        for (int g = 0; g < 4; g++) {
            float d0 = d * scale(data, bo + 4, 2 * g), m0 = dmin * min(data, bo + 4, 2 * g);
            float d1 = d * scale(data, bo + 4, 2 * g + 1), m1 = dmin * min(data, bo + 4, 2 * g + 1);
            for (int j = 0; j < 32; j++) {
                int q = Simd.u8(data, bo + 16 + g * 32 + j);
                out[off + g * 64 + j] = d0 * (q & 0x0F) - m0;
                out[off + g * 64 + 32 + j] = d1 * (q >>> 4) - m1;
            }
        }
    }

    /**
     * Per sub-block the weights are {@code q * ds - dm}: one FMA turns the nibbles into weights, a second one
     * multiplies by x into the accumulator (low and high nibbles in separate accumulators).
     */
    /** Vector dequantization (the batched matmul path decodes whole tiles with it); same values as the scalar one. */
    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        if (!Simd.QUANT_OK) {
            super.dequantizeRow(row, out, off);
            return;
        }
        long base = rowOffset(row);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * BYTES;
            long head = Simd.i64(data, bo);
            long rest = Simd.i64(data, bo + 8);
            int u0 = (int) (head >>> 32), u1 = (int) rest, u2 = (int) (rest >>> 32);
            long scs = scales(u0, u1, u2), mns = mins(u0, u1, u2);
            float d = Float.float16ToFloat((short) head);
            float dmin = Float.float16ToFloat((short) (head >>> 16));
            for (int g = 0; g < 4; g++) {
                float ds0 = d * (int) ((scs >>> (16 * g)) & 0xFF), dm0 = dmin * (int) ((mns >>> (16 * g)) & 0xFF);
                float ds1 = d * (int) ((scs >>> (16 * g + 8)) & 0xFF), dm1 = dmin * (int) ((mns >>> (16 * g + 8)) & 0xFF);
                int o = off + b * 256 + g * 64;
                for (int k = 0; k < 32; k += L) {
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 16 + g * 32 + k, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    ((FloatVector) q.and(0x0F).convertShape(VectorOperators.I2F, F, 0)).mul(ds0).sub(dm0)
                            .intoArray(out, o + k);
                    ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0)).mul(ds1).sub(dm1)
                            .intoArray(out, o + 32 + k);
                }
            }
        }
    }

    @Override
    public float dotVector(long row, float[] x, int xOff) {
        if (!Simd.QUANT_OK) {
            return super.dotVector(row, x, xOff);
        }
        long base = rowOffset(row);
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F), acc3 = FloatVector.zero(F);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * BYTES;
            int xo = xOff + b * 256;
            long head = Simd.i64(data, bo); // d, dmin, scale bytes 0..3
            long rest = Simd.i64(data, bo + 8); // scale bytes 4..11
            int u0 = (int) (head >>> 32), u1 = (int) rest, u2 = (int) (rest >>> 32);
            long scs = scales(u0, u1, u2), mns = mins(u0, u1, u2);
            float d = Float.float16ToFloat((short) head);
            float dmin = Float.float16ToFloat((short) (head >>> 16));
            for (int g = 0; g < 4; g++) {
                FloatVector ds0 = FloatVector.broadcast(F, d * (int) ((scs >>> (16 * g)) & 0xFF));
                FloatVector dm0 = FloatVector.broadcast(F, -dmin * (int) ((mns >>> (16 * g)) & 0xFF));
                FloatVector ds1 = FloatVector.broadcast(F, d * (int) ((scs >>> (16 * g + 8)) & 0xFF));
                FloatVector dm1 = FloatVector.broadcast(F, -dmin * (int) ((mns >>> (16 * g + 8)) & 0xFF));
                long qo = bo + 16 + g * 32;
                int xg = xo + g * 64;
                for (int k = 0; k < 32; k += 2 * L) {
                    IntVector qa = (IntVector) ByteVector.fromMemorySegment(B, data, qo + k, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, data, qo + k + L, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    FloatVector wa0 = ((FloatVector) qa.and(0x0F).convertShape(VectorOperators.I2F, F, 0)).fma(ds0, dm0);
                    FloatVector wb0 = ((FloatVector) qb.and(0x0F).convertShape(VectorOperators.I2F, F, 0)).fma(ds0, dm0);
                    FloatVector wa1 = ((FloatVector) qa.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0)).fma(ds1, dm1);
                    FloatVector wb1 = ((FloatVector) qb.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0)).fma(ds1, dm1);
                    acc0 = wa0.fma(FloatVector.fromArray(F, x, xg + k), acc0);
                    acc1 = wb0.fma(FloatVector.fromArray(F, x, xg + k + L), acc1);
                    acc2 = wa1.fma(FloatVector.fromArray(F, x, xg + 32 + k), acc2);
                    acc3 = wb1.fma(FloatVector.fromArray(F, x, xg + 32 + k + L), acc3);
                }
            }
        }
        return acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    }

    /** The same loop as {@link AbstractTensor#dotRows}, here so that {@link #dotVector} inlines monomorphically. */
    @Override
    public void dotRows(float[] x, float[] out, int batch, int r0, int r1) {
        int n = (int) rows;
        int per = streamRows(r0, r1);
        for (int q = 0; q < per; q++) {
            for (int r = r0 + q; r < r1; r += per) {
                for (int b = 0; b < batch; b++) {
                    out[b * n + r] = dotVector(r, x, b * cols);
                }
            }
        }
    }

    /** The same loop as {@link AbstractTensor#dequantizeRows}, here so that {@link #dequantizeRow} inlines. */
    @Override
    public void dequantizeRows(long r0, int count, float[] out, int off) {
        for (int i = 0; i < count; i++) {
            dequantizeRow(r0 + i, out, off + i * cols);
        }
    }
}
