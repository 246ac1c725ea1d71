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
 * GGML_TYPE_Q3_K, super-block of 256 in 110 bytes: {@code uint8 hmask[32]; uint8 qs[64]; uint8 scales[12];
 * fp16 d}. Element {@code g*128 + s*32 + j}: low 2 bits from {@code qs[g*32 + j] >> 2s}; 4 is subtracted unless
 * bit {@code idx / 32} of {@code hmask[j]} is set. Sixteen 6-bit scales (minus 32): low 4 bits from
 * {@code scales[i % 8]} (low nibble for i < 8), high 2 bits from {@code scales[8 + i % 4] >> 2(i / 4)};
 * {@code y = d * (scale - 32) * q}.
 */
public final class Q3_KTensor extends AbstractTensor {

    public Q3_KTensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q3_K, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo + 108);
        long sc = bo + 96;
        for (int idx = 0; idx < 256; idx++) {
            int i = idx / 16;
            int lo = i < 8 ? Simd.u8(data, sc + i) & 0x0F : Simd.u8(data, sc + i - 8) >>> 4;
            int hi = (Simd.u8(data, sc + 8 + i % 4) >>> (2 * (i / 4))) & 3;
            int scale = (lo | (hi << 4)) - 32;
            int g = idx / 128, s = (idx % 128) / 32, j = idx % 32;
            int q = (Simd.u8(data, bo + 32 + g * 32 + j) >>> (2 * s)) & 3;
            int h = (Simd.u8(data, bo + j) >>> (idx / 32)) & 1;
            out[off + idx] = d * scale * (q - (h == 0 ? 4 : 0));
        }
    }

    /**
     * Vector dequantization: lane chunks of L never cross a 16-element scale group; the high bit of element
     * {@code idx} is bit {@code idx / 32} of {@code hmask[j]}. Same values as the scalar path.
     */
    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        if (!Simd.QUANT_OK) {
            super.dequantizeRow(row, out, off);
            return;
        }
        long base = rowOffset(row);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * 110;
            float d = Simd.f16(data, bo + 108);
            long sc = bo + 96;
            for (int g = 0; g < 2; g++) {
                for (int j = 0; j < 32; j += L) {
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 32 + g * 32 + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    IntVector h = (IntVector) ByteVector.fromMemorySegment(B, data, bo + j, LE)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    for (int s = 0; s < 4; s++) {
                        int idx = g * 128 + s * 32 + j;
                        int i = idx / 16;
                        int lo = i < 8 ? Simd.u8(data, sc + i) & 0x0F : Simd.u8(data, sc + i - 8) >>> 4;
                        int hi = (Simd.u8(data, sc + 8 + i % 4) >>> (2 * (i / 4))) & 3;
                        int scale = (lo | (hi << 4)) - 32;
                        // q - 4 where the hmask bit is clear: q - 4 + 4 * bit
                        IntVector v = q.lanewise(VectorOperators.LSHR, 2 * s).and(3).sub(4)
                                .add(h.lanewise(VectorOperators.LSHR, idx / 32).and(1).lanewise(VectorOperators.LSHL, 2));
                        ((FloatVector) v.convertShape(VectorOperators.I2F, F, 0)).mul(d * scale).intoArray(out, off + b * 256 + idx);
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
