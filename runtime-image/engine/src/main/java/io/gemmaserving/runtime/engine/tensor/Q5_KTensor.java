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
 * GGML_TYPE_Q5_K, super-block of 256 in 176 bytes: {@code fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32];
 * uint8 qs[128]}. Low 4 bits and scales/mins as Q4_K; the fifth bit of element {@code j} of sub-block
 * {@code sb} is bit {@code sb} of {@code qh[j]}; {@code y = d * sc * q - dmin * m}.
 */
public final class Q5_KTensor extends AbstractTensor {

    private static final int BYTES = 176;

    public Q5_KTensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q5_K, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        float dmin = Simd.f16(data, bo + 2);
        for (int sb = 0; sb < 8; sb++) {
            float ds = d * Q4_KTensor.scale(data, bo + 4, sb);
            float dm = dmin * Q4_KTensor.min(data, bo + 4, sb);
            for (int j = 0; j < 32; j++) {
                int ql = Simd.u8(data, bo + 48 + (sb / 2) * 32 + j);
                int lo = (sb & 1) == 0 ? ql & 0x0F : ql >>> 4;
                int hi = (Simd.u8(data, bo + 16 + j) >>> sb) & 1;
                out[off + sb * 32 + j] = ds * (lo | (hi << 4)) - dm;
            }
        }
    }

    /** As Q4_K, with the fifth bits taken from the qh lanes of the same j; both mul and sub rounded as the scalar path. */
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
            long scs = Q4_KTensor.scales(u0, u1, u2), mns = Q4_KTensor.mins(u0, u1, u2);
            float d = Float.float16ToFloat((short) head);
            float dmin = Float.float16ToFloat((short) (head >>> 16));
            for (int g = 0; g < 4; g++) {
                float ds0 = d * (int) ((scs >>> (16 * g)) & 0xFF), dm0 = dmin * (int) ((mns >>> (16 * g)) & 0xFF);
                float ds1 = d * (int) ((scs >>> (16 * g + 8)) & 0xFF), dm1 = dmin * (int) ((mns >>> (16 * g + 8)) & 0xFF);
                int o = off + b * 256 + g * 64;
                for (int k = 0; k < 32; k += L) {
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 48 + g * 32 + k, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 16 + k, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector lo = q.and(0x0F).or(h.lanewise(VectorOperators.LSHR, 2 * g).and(1).lanewise(VectorOperators.LSHL, 4));
                    IntVector hi = q.lanewise(VectorOperators.LSHR, 4)
                            .or(h.lanewise(VectorOperators.LSHR, 2 * g + 1).and(1).lanewise(VectorOperators.LSHL, 4));
                    ((FloatVector) lo.convertShape(VectorOperators.I2F, F, 0)).mul(ds0).sub(dm0).intoArray(out, o + k);
                    ((FloatVector) hi.convertShape(VectorOperators.I2F, F, 0)).mul(ds1).sub(dm1).intoArray(out, o + 32 + k);
                }
            }
        }
    }

    /** Fused as Q4_K: weights {@code q * ds - dm} by one FMA, then FMA with x (low and high nibbles apart). */
    @Override
    public float dotVector(long row, float[] x, int xOff) {
        if (!Simd.QUANT_OK) {
            return super.dotVector(row, x, xOff);
        }
        long base = rowOffset(row);
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * BYTES;
            int xo = xOff + b * 256;
            long head = Simd.i64(data, bo);
            long rest = Simd.i64(data, bo + 8);
            int u0 = (int) (head >>> 32), u1 = (int) rest, u2 = (int) (rest >>> 32);
            long scs = Q4_KTensor.scales(u0, u1, u2), mns = Q4_KTensor.mins(u0, u1, u2);
            float d = Float.float16ToFloat((short) head);
            float dmin = Float.float16ToFloat((short) (head >>> 16));
            for (int g = 0; g < 4; g++) {
                FloatVector ds0 = FloatVector.broadcast(F, d * (int) ((scs >>> (16 * g)) & 0xFF));
                FloatVector dm0 = FloatVector.broadcast(F, -dmin * (int) ((mns >>> (16 * g)) & 0xFF));
                FloatVector ds1 = FloatVector.broadcast(F, d * (int) ((scs >>> (16 * g + 8)) & 0xFF));
                FloatVector dm1 = FloatVector.broadcast(F, -dmin * (int) ((mns >>> (16 * g + 8)) & 0xFF));
                int xg = xo + g * 64;
                for (int k = 0; k < 32; k += L) {
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 48 + g * 32 + k, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 16 + k, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector lo = q.and(0x0F).or(h.lanewise(VectorOperators.LSHR, 2 * g).and(1).lanewise(VectorOperators.LSHL, 4));
                    IntVector hi = q.lanewise(VectorOperators.LSHR, 4)
                            .or(h.lanewise(VectorOperators.LSHR, 2 * g + 1).and(1).lanewise(VectorOperators.LSHL, 4));
                    FloatVector w0 = ((FloatVector) lo.convertShape(VectorOperators.I2F, F, 0)).fma(ds0, dm0);
                    FloatVector w1 = ((FloatVector) hi.convertShape(VectorOperators.I2F, F, 0)).fma(ds1, dm1);
                    acc0 = w0.fma(FloatVector.fromArray(F, x, xg + k), acc0);
                    acc1 = w1.fma(FloatVector.fromArray(F, x, xg + 32 + k), acc1);
                }
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
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
