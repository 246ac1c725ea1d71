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
 * GGML_TYPE_Q6_K, super-block of 256 in 210 bytes: {@code uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d}.
 * Element {@code g*128 + s*32 + j} (half g 0..1, quarter s 0..3, j 0..31): low 4 bits from
 * {@code ql[g*64 + (s&1)*32 + j]} (low nibble for s < 2, high for s >= 2), high 2 bits from
 * {@code qh[g*32 + j] >> 2s}; {@code y = d * scales[idx / 16] * (q - 32)}.
 */
public final class Q6_KTensor extends AbstractTensor {

    private static final int BYTES = 210;

    public Q6_KTensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q6_K, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo + 208);
        for (int g = 0; g < 2; g++) {
            for (int s = 0; s < 4; s++) {
                for (int j = 0; j < 32; j++) {
                    int ql = Simd.u8(data, bo + g * 64 + (s & 1) * 32 + j);
                    int lo = s < 2 ? ql & 0x0F : ql >>> 4;
                    int hi = (Simd.u8(data, bo + 128 + g * 32 + j) >>> (2 * s)) & 3;
                    int idx = g * 128 + s * 32 + j;
                    out[off + idx] = d * Simd.i8(data, bo + 192 + idx / 16) * ((lo | (hi << 4)) - 32);
                }
            }
        }
    }

    /**
     * Three byte loads (two of ql, one of qh), zero-extended to int lanes (int shifts are native, byte shifts are
     * not), give four L-lane chunks of 6-bit values; each chunk lies inside one 16-element scale group, so one
     * broadcast {@code d * scale} weights it. The 16 scales are read as two longs per super-block.
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
            float d = Simd.f16(data, bo + 208);
            for (int g = 0; g < 2; g++) {
                long sc = Simd.i64(data, bo + 192 + 8 * g);
                for (int j = 0; j < 32; j += L) {
                    IntVector qa = (IntVector) ByteVector.fromMemorySegment(B, data, bo + g * 64 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, data, bo + g * 64 + 32 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector qh = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 128 + g * 32 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector q0 = qa.and(0x0F).or(qh.lanewise(VectorOperators.LSHL, 4).and(0x30)).sub(32);
                    IntVector q1 = qb.and(0x0F).or(qh.lanewise(VectorOperators.LSHL, 2).and(0x30)).sub(32);
                    IntVector q2 = qa.lanewise(VectorOperators.LSHR, 4).or(qh.and(0x30)).sub(32);
                    IntVector q3 = qb.lanewise(VectorOperators.LSHR, 4).or(qh.lanewise(VectorOperators.LSHR, 2).and(0x30)).sub(32);
                    int shift = 8 * (j / 16);
                    int o = off + b * 256 + g * 128 + j;
                    ((FloatVector) q0.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> shift)).intoArray(out, o);
                    ((FloatVector) q1.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> (shift + 16))).intoArray(out, o + 32);
                    ((FloatVector) q2.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> (shift + 32))).intoArray(out, o + 64);
                    ((FloatVector) q3.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> (shift + 48))).intoArray(out, o + 96);
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
            float d = Simd.f16(data, bo + 208);
            long sc0 = Simd.i64(data, bo + 192), sc1 = Simd.i64(data, bo + 200);
            for (int g = 0; g < 2; g++) {
                long sc = g == 0 ? sc0 : sc1; // scales g*8 .. g*8+7
                for (int j = 0; j < 32; j += L) {
                    IntVector qa = (IntVector) ByteVector.fromMemorySegment(B, data, bo + g * 64 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector qb = (IntVector) ByteVector.fromMemorySegment(B, data, bo + g * 64 + 32 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector qh = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 128 + g * 32 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector q0 = qa.and(0x0F).or(qh.lanewise(VectorOperators.LSHL, 4).and(0x30)).sub(32);
                    IntVector q1 = qb.and(0x0F).or(qh.lanewise(VectorOperators.LSHL, 2).and(0x30)).sub(32);
                    IntVector q2 = qa.lanewise(VectorOperators.LSHR, 4).or(qh.and(0x30)).sub(32);
                    IntVector q3 = qb.lanewise(VectorOperators.LSHR, 4).or(qh.lanewise(VectorOperators.LSHR, 2).and(0x30)).sub(32);
                    int shift = 8 * (j / 16); // scale index g*8 + s*2 + j/16, byte (s*2 + j/16) of sc
                    int xg = xo + g * 128 + j;
                    acc0 = ((FloatVector) q0.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> shift))
                            .fma(FloatVector.fromArray(F, x, xg), acc0);
                    acc1 = ((FloatVector) q1.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> (shift + 16)))
                            .fma(FloatVector.fromArray(F, x, xg + 32), acc1);
                    acc2 = ((FloatVector) q2.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> (shift + 32)))
                            .fma(FloatVector.fromArray(F, x, xg + 64), acc2);
                    acc3 = ((FloatVector) q3.convertShape(VectorOperators.I2F, F, 0)).mul(d * (byte) (sc >>> (shift + 48)))
                            .fma(FloatVector.fromArray(F, x, xg + 96), acc3);
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
