package io.gemmaserving.runtime.engine.tensor;

import static io.gemmaserving.runtime.engine.tensor.Simd.B;
import static io.gemmaserving.runtime.engine.tensor.Simd.F;
import static io.gemmaserving.runtime.engine.tensor.Simd.L;
import static io.gemmaserving.runtime.engine.tensor.Simd.LE;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GGML_TYPE_Q8_0, block of 32 in 34 bytes: {@code fp16 d; int8 qs[32]}; {@code y[i] = d * qs[i]}.
 */
public final class Q8_0Tensor extends AbstractTensor {

    private static final int BYTES = 34;

    public Q8_0Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q8_0, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        for (int i = 0; i < 32; i++) {
            out[off + i] = d * Simd.i8(data, bo + 2 + i);
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
            float d = Simd.f16(data, bo);
            for (int k = 0; k < 32; k += L) {
                ((FloatVector) ByteVector.fromMemorySegment(B, data, bo + 2 + k, LE).castShape(F, 0)).mul(d)
                        .intoArray(out, off + b * 32 + k);
            }
        }
    }

    /**
     * Per block: L int8 lanes cast to L float lanes, FMA with x into a block sum, then the block sum times d into
     * one of two accumulators (two blocks per iteration to keep two FMA chains in flight).
     */
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
            acc0 = block(bo, x, xo).fma(FloatVector.broadcast(F, Simd.f16(data, bo)), acc0);
            acc1 = block(bo + BYTES, x, xo + 32).fma(FloatVector.broadcast(F, Simd.f16(data, bo + BYTES)), acc1);
        }
        if (b < blocksPerRow) {
            long bo = base + (long) b * BYTES;
            acc0 = block(bo, x, xOff + b * 32).fma(FloatVector.broadcast(F, Simd.f16(data, bo)), acc0);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** Sum over the block's 32 lanes of q * x, as an L-lane vector (not yet scaled by d). */
    private FloatVector block(long bo, float[] x, int xo) {
        FloatVector s = ((FloatVector) ByteVector.fromMemorySegment(B, data, bo + 2, LE).castShape(F, 0))
                .mul(FloatVector.fromArray(F, x, xo));
        for (int k = L; k < 32; k += L) {
            s = ((FloatVector) ByteVector.fromMemorySegment(B, data, bo + 2 + k, LE).castShape(F, 0))
                    .fma(FloatVector.fromArray(F, x, xo + k), s);
        }
        return s;
    }

    /**
     * Rows {@code ra} and {@code rb} against one activation row at once (16 lanes): each block's two x vectors are
     * loaded once for both rows, and the loop's offsets and bounds checks are shared by twice the arithmetic.
     */
    private void dotPair(int ra, int rb, float[] x, float[] out) {
        long baseA = rowOffset(ra), baseB = rowOffset(rb);
        FloatVector accA = FloatVector.zero(F), accB = FloatVector.zero(F);
        for (int b = 0; b < blocksPerRow; b++) {
            long boA = baseA + (long) b * BYTES, boB = baseB + (long) b * BYTES;
            FloatVector xlo = FloatVector.fromArray(F, x, b * 32), xhi = FloatVector.fromArray(F, x, b * 32 + 16);
            accA = block16(boA, xlo, xhi).fma(FloatVector.broadcast(F, Simd.f16(data, boA)), accA);
            accB = block16(boB, xlo, xhi).fma(FloatVector.broadcast(F, Simd.f16(data, boB)), accB);
        }
        out[ra] = accA.reduceLanes(VectorOperators.ADD);
        out[rb] = accB.reduceLanes(VectorOperators.ADD);
    }

    /** {@link #block} for 16 lanes, the x vectors given. */
    private FloatVector block16(long bo, FloatVector xlo, FloatVector xhi) {
        FloatVector s = ((FloatVector) ByteVector.fromMemorySegment(B, data, bo + 2, LE).castShape(F, 0)).mul(xlo);
        return ((FloatVector) ByteVector.fromMemorySegment(B, data, bo + 18, LE).castShape(F, 0)).fma(xhi, s);
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
