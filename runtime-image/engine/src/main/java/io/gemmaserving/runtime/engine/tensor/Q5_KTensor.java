package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * GGML_TYPE_Q5_K, super-block of 256 in 176 bytes: {@code fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32];
 * uint8 qs[128]}. Low 4 bits and scales/mins as Q4_K; the fifth bit of element {@code j} of sub-block
 * {@code sb} is bit {@code sb} of {@code qh[j]}; {@code y = d * sc * q - dmin * m}.
 */
public final class Q5_KTensor extends AbstractTensor {

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
}
