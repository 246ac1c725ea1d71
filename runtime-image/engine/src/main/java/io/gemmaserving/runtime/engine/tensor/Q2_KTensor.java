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
 * GGML_TYPE_Q2_K, super-block of 256 in 84 bytes: {@code uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin}.
 * Element {@code g*128 + s*32 + j} is bits {@code 2s..2s+1} of {@code qs[g*32 + j]}; its 16-element group
 * {@code idx / 16} has scale {@code scales & 0xF} and min {@code scales >> 4}; {@code y = d * sc * q - dmin * m}.
 */
public final class Q2_KTensor extends AbstractTensor {

    public Q2_KTensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q2_K, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo + 80);
        float dmin = Simd.f16(data, bo + 82);
        for (int g = 0; g < 2; g++) {
            for (int s = 0; s < 4; s++) {
                for (int j = 0; j < 32; j++) {
                    int idx = g * 128 + s * 32 + j;
                    int sc = Simd.u8(data, bo + idx / 16);
                    int q = (Simd.u8(data, bo + 16 + g * 32 + j) >>> (2 * s)) & 3;
                    out[off + idx] = d * (sc & 0x0F) * q - dmin * (sc >>> 4);
                }
            }
        }
    }

    /**
     * Vector dequantization: lane chunks of L never cross a 16-element scale group, so each chunk has one scale
     * and one min; same values as the scalar path ({@code (d * sc) * q - dmin * m}).
     */
    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        if (!Simd.QUANT_OK) {
            super.dequantizeRow(row, out, off);
            return;
        }
        long base = rowOffset(row);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * 84;
            float d = Simd.f16(data, bo + 80);
            float dmin = Simd.f16(data, bo + 82);
            for (int g = 0; g < 2; g++) {
                for (int j = 0; j < 32; j += L) {
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 16 + g * 32 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    for (int s = 0; s < 4; s++) {
                        int idx = g * 128 + s * 32 + j;
                        int sc = Simd.u8(data, bo + idx / 16);
                        FloatVector v = (FloatVector) q.lanewise(VectorOperators.LSHR, 2 * s).and(3)
                                .convertShape(VectorOperators.I2F, F, 0);
                        v.mul(d * (sc & 0x0F)).sub(dmin * (sc >>> 4)).intoArray(out, off + b * 256 + idx);
                    }
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

    /** Dequantize the row (vectors) into a per-thread buffer, then a vector dot. */
    @Override
    public float dotVector(long row, float[] x, int xOff) {
        float[] buf = rowBuffer(cols);
        dequantizeRow(row, buf, 0);
        return Simd.dot(buf, 0, x, xOff, cols);
    }
}
