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
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML_TYPE_Q5_0, block of 32 in 22 bytes: {@code fp16 d; uint32 qh; uint8 qs[16]}. Element {@code j < 16}:
 * low nibble of {@code qs[j]} with bit {@code j} of qh as fifth bit; element {@code j + 16}: high nibble with bit
 * {@code j + 16}; {@code y = d * (q - 16)}.
 */
public final class Q5_0Tensor extends AbstractTensor {

    private static final int BYTES = 22;
    public Q5_0Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q5_0, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        int qh = Simd.i32(data, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = Simd.u8(data, bo + 6 + j);
            int x0 = (q & 0x0F) | (((qh >>> j) & 1) << 4);
            int x1 = (q >>> 4) | (((qh >>> (j + 16)) & 1) << 4);
            out[off + j] = d * (x0 - 16);
            out[off + j + 16] = d * (x1 - 16);
        }
    }

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
            long h = Simd.i64(data, bo);
            float d = Float.float16ToFloat((short) h);
            int qh = (int) (h >>> 16);
            int o = off + b * 32;
            for (int k = 0; k < 16; k += L) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 6 + k, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                FloatVector lo = (FloatVector) q.and(0x0F).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0);
                lo.lanewise(VectorOperators.SUB, 16f, VectorMask.fromLong(F, ~(qh >>> k))).mul(d).intoArray(out, o + k);
                hi.lanewise(VectorOperators.SUB, 16f, VectorMask.fromLong(F, ~(qh >>> (16 + k)))).mul(d).intoArray(out, o + 16 + k);
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
        int b = 0;
        for (; b + 1 < blocksPerRow; b += 2) {
            long bo = base + (long) b * BYTES;
            int xo = xOff + b * 32;
            long h0 = Simd.i64(data, bo);
            long h1 = Simd.i64(data, bo + BYTES);
            acc0 = block(bo, (int) (h0 >>> 16), x, xo).fma(FloatVector.broadcast(F, Float.float16ToFloat((short) h0)), acc0);
            acc1 = block(bo + BYTES, (int) (h1 >>> 16), x, xo + 32)
                    .fma(FloatVector.broadcast(F, Float.float16ToFloat((short) h1)), acc1);
        }
        if (b < blocksPerRow) {
            long bo = base + (long) b * BYTES;
            long h0 = Simd.i64(data, bo);
            acc0 = block(bo, (int) (h0 >>> 16), x, xOff + b * 32)
                    .fma(FloatVector.broadcast(F, Float.float16ToFloat((short) h0)), acc0);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Sum of (q - 16) * x over one block, not yet scaled by d. The nibbles are zero-extended to int lanes (int
     * shifts are native, byte shifts are not) and converted to float; the fifth bit becomes a lane mask straight
     * from qh ({@code VectorMask.fromLong}), and lanes whose bit is clear get 16 subtracted:
     * {@code (lo | bit << 4) - 16 == bit ? lo : lo - 16}.
     */
    private FloatVector block(long bo, int qh, float[] x, int xo) {
        FloatVector s = FloatVector.zero(F);
        for (int k = 0; k < 16; k += L) {
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 6 + k, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector lo = (FloatVector) q.and(0x0F).convertShape(VectorOperators.I2F, F, 0);
            FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0);
            VectorMask<Float> clear0 = VectorMask.fromLong(F, ~(qh >>> k));
            VectorMask<Float> clear1 = VectorMask.fromLong(F, ~(qh >>> (16 + k)));
            s = lo.lanewise(VectorOperators.SUB, 16f, clear0).fma(FloatVector.fromArray(F, x, xo + k), s);
            s = hi.lanewise(VectorOperators.SUB, 16f, clear1).fma(FloatVector.fromArray(F, x, xo + 16 + k), s);
        }
        return s;
    }

    /**
     * Rows {@code ra} and {@code rb} against one activation row at once: each block's two x vectors are loaded
     * once for both rows, and the loop's offsets and bounds checks are shared by twice the arithmetic.
     */
    private void dotPair(int ra, int rb, float[] x, float[] out) {
        long baseA = rowOffset(ra), baseB = rowOffset(rb);
        FloatVector accA = FloatVector.zero(F), accB = FloatVector.zero(F);
        for (int b = 0; b < blocksPerRow; b++) {
            long boA = baseA + (long) b * BYTES, boB = baseB + (long) b * BYTES;
            int xo = b * 32;
            long hA = Simd.i64(data, boA), hB = Simd.i64(data, boB);
            FloatVector xlo = FloatVector.fromArray(F, x, xo), xhi = FloatVector.fromArray(F, x, xo + 16);
            accA = block16(boA, (int) (hA >>> 16), xlo, xhi).fma(FloatVector.broadcast(F, Float.float16ToFloat((short) hA)), accA);
            accB = block16(boB, (int) (hB >>> 16), xlo, xhi).fma(FloatVector.broadcast(F, Float.float16ToFloat((short) hB)), accB);
        }
        out[ra] = accA.reduceLanes(VectorOperators.ADD);
        out[rb] = accB.reduceLanes(VectorOperators.ADD);
    }

    /** {@link #block} for 16 lanes, the x vectors given. */
    private FloatVector block16(long bo, int qh, FloatVector xlo, FloatVector xhi) {
        IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 6, LE)
                .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
        FloatVector lo = (FloatVector) q.and(0x0F).convertShape(VectorOperators.I2F, F, 0);
        FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0);
        FloatVector s = lo.lanewise(VectorOperators.SUB, 16f, VectorMask.fromLong(F, ~qh)).mul(xlo);
        return hi.lanewise(VectorOperators.SUB, 16f, VectorMask.fromLong(F, ~(qh >>> 16))).fma(xhi, s);
    }

    /** The same loop as {@link AbstractTensor#dotRows}, here so that {@link #dotVector} inlines monomorphically. */
    @Override
    public void dotRows(float[] x, float[] out, int batch, int r0, int r1) {
        int n = (int) rows;
        int per = streamRows(r0, r1);
        if (batch == 1 && L == 16) { // two rows of the same stream group at a time (see dotPair)
            for (int q = 0; q < per; q++) {
                int r = r0 + q;
                for (; r + per < r1; r += 2 * per) {
                    dotPair(r, r + per, x, out);
                }
                if (r < r1) {
                    out[r] = dotVector(r, x, 0);
                }
            }
            return;
        }
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
