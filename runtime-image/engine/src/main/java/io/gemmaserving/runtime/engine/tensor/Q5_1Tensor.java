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
 * GGML_TYPE_Q5_1, block of 32 in 24 bytes: {@code fp16 d; fp16 m; uint32 qh; uint8 qs[16]}; 5-bit values as
 * Q5_0; {@code y = d * q + m}.
 */
public final class Q5_1Tensor extends AbstractTensor {

    public Q5_1Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q5_1, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        float m = Simd.f16(data, bo + 2);
        int qh = Simd.i32(data, bo + 4);
        for (int j = 0; j < 16; j++) {
            int q = Simd.u8(data, bo + 8 + j);
            int x0 = (q & 0x0F) | (((qh >>> j) & 1) << 4);
            int x1 = (q >>> 4) | (((qh >>> (j + 16)) & 1) << 4);
            out[off + j] = d * x0 + m;
            out[off + j + 16] = d * x1 + m;
        }
    }

    /**
     * {@code sum((d*q + m) * x) = d * sum(q*x) + m * sum(x)} per block: one vector of q*x sums and one of x sums,
     * each scaled once per block (the fifth bit, from qh as a lane mask, adds 16).
     */
    @Override
    public float dotVector(long row, float[] x, int xOff) {
        if (!Simd.QUANT_OK) {
            return super.dotVector(row, x, xOff);
        }
        long base = rowOffset(row);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * 24;
            int xo = xOff + b * 32;
            int dm = Simd.i32(data, bo);
            int qh = Simd.i32(data, bo + 4);
            FloatVector qx = FloatVector.zero(F), xs = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 8 + k, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                FloatVector lo = (FloatVector) q.and(0x0F).convertShape(VectorOperators.I2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, F, 0);
                lo = lo.lanewise(VectorOperators.ADD, 16f, VectorMask.fromLong(F, qh >>> k));
                hi = hi.lanewise(VectorOperators.ADD, 16f, VectorMask.fromLong(F, qh >>> (16 + k)));
                FloatVector x0 = FloatVector.fromArray(F, x, xo + k);
                FloatVector x1 = FloatVector.fromArray(F, x, xo + 16 + k);
                qx = lo.fma(x0, hi.fma(x1, qx));
                xs = xs.add(x0).add(x1);
            }
            acc = qx.fma(FloatVector.broadcast(F, Float.float16ToFloat((short) dm)), acc);
            acc = xs.fma(FloatVector.broadcast(F, Float.float16ToFloat((short) (dm >>> 16))), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
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
}
