package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

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
}
