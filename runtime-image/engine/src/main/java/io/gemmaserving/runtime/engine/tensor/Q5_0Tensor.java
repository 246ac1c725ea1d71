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
 * GGML_TYPE_Q5_0, block of 32 in 22 bytes: {@code fp16 d; uint32 qh; uint8 qs[16]}. Element {@code j < 16}:
 * low nibble of {@code qs[j]} with bit {@code j} of qh as fifth bit; element {@code j + 16}: high nibble with bit
 * {@code j + 16}; {@code y = d * (q - 16)}.
 */
public final class Q5_0Tensor extends AbstractTensor {

    private static final int BYTES = 22;
    /** Lane i of SHIFTS[k] is the qh bit index of lane i of the k-th L-lane chunk: k * L + i. */
    private static final IntVector[] SHIFTS = new IntVector[32 / Math.max(1, Simd.L)];

    static {
        for (int k = 0; k < SHIFTS.length; k++) {
            SHIFTS[k] = IntVector.zero(I).addIndex(1).add(k * L);
        }
    }

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

    /** Nibbles widened to int lanes, the fifth bit from qh shifted per lane, minus 16, to float, FMA with x. */
    private FloatVector block(long bo, float[] x, int xo) {
        IntVector qh = IntVector.broadcast(I, Simd.i32(data, bo + 2));
        FloatVector s = FloatVector.zero(F);
        for (int k = 0; k < 16 / L; k++) {
            ByteVector q = ByteVector.fromMemorySegment(B, data, bo + 6 + k * L, LE);
            IntVector lo = (IntVector) q.and((byte) 0x0F).castShape(I, 0);
            IntVector hi = (IntVector) q.lanewise(VectorOperators.LSHR, 4).castShape(I, 0);
            IntVector h0 = qh.lanewise(VectorOperators.LSHR, SHIFTS[k]).and(1).lanewise(VectorOperators.LSHL, 4);
            IntVector h1 = qh.lanewise(VectorOperators.LSHR, SHIFTS[k + 16 / L]).and(1).lanewise(VectorOperators.LSHL, 4);
            FloatVector f0 = (FloatVector) lo.or(h0).sub(16).castShape(F, 0);
            FloatVector f1 = (FloatVector) hi.or(h1).sub(16).castShape(F, 0);
            s = f0.fma(FloatVector.fromArray(F, x, xo + k * L), s);
            s = f1.fma(FloatVector.fromArray(F, x, xo + 16 + k * L), s);
        }
        return s;
    }
}
