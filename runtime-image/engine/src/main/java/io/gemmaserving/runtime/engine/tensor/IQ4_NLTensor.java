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
 * GGML_TYPE_IQ4_NL, block of 32 in 18 bytes: {@code fp16 d; uint8 qs[16]}; nibbles as Q4_0 index a fixed
 * non-linear table ({@code kvalues_iq4nl}); {@code y = d * table[q]}. With 16 int lanes the table is one vector
 * and the lookup one lane permutation; otherwise the vector dot dequantizes first.
 */
public final class IQ4_NLTensor extends AbstractTensor {

    private static final int[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    private static final boolean PERMUTE = L == 16;
    private static final IntVector TABLE = PERMUTE ? IntVector.fromArray(I, VALUES, 0) : null;

    public IQ4_NLTensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.IQ4_NL, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        for (int j = 0; j < 16; j++) {
            int q = Simd.u8(data, bo + 2 + j);
            out[off + j] = d * VALUES[q & 0x0F];
            out[off + j + 16] = d * VALUES[q >>> 4];
        }
    }

    @Override
    public float dotVector(long row, float[] x, int xOff) {
        if (!PERMUTE) {
            return super.dotVector(row, x, xOff);
        }
        long base = rowOffset(row);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * 18;
            int xo = xOff + b * 32;
            IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 2, LE)
                    .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            FloatVector lo = (FloatVector) q.and(0x0F).selectFrom(TABLE).convertShape(VectorOperators.I2F, F, 0);
            FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).selectFrom(TABLE)
                    .convertShape(VectorOperators.I2F, F, 0);
            FloatVector s = lo.fma(FloatVector.fromArray(F, x, xo), hi.mul(FloatVector.fromArray(F, x, xo + 16)));
            acc = s.fma(FloatVector.broadcast(F, Simd.f16(data, bo)), acc);
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
