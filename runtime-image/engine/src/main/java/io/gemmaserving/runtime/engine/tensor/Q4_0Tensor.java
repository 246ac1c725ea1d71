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
 * GGML_TYPE_Q4_0, block of 32 in 18 bytes: {@code fp16 d; uint8 qs[16]}; element {@code j < 16} is the low
 * nibble of {@code qs[j]}, element {@code j + 16} the high nibble; {@code y = d * (q - 8)}.
 */
public final class Q4_0Tensor extends AbstractTensor {

    private static final int BYTES = 18;

    public Q4_0Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q4_0, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        for (int j = 0; j < 16; j++) {
            int q = Simd.u8(data, bo + 2 + j);
            out[off + j] = d * ((q & 0x0F) - 8);
            out[off + j + 16] = d * ((q >>> 4) - 8);
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

    /** Nibbles zero-extended to int lanes (int shifts are native, byte shifts are not), minus 8, to float. */
    private FloatVector block(long bo, float[] x, int xo) {
        FloatVector s = FloatVector.zero(F);
        for (int k = 0; k < 16; k += L) {
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 2 + k, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector lo = (FloatVector) q.and(0x0F).sub(8).convertShape(VectorOperators.I2F, F, 0);
            FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub(8).convertShape(VectorOperators.I2F, F, 0);
            s = lo.fma(FloatVector.fromArray(F, x, xo + k), s);
            s = hi.fma(FloatVector.fromArray(F, x, xo + 16 + k), s);
        }
        return s;
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
