package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * GGML_TYPE_Q4_1, block of 32 in 20 bytes: {@code fp16 d; fp16 m; uint8 qs[16]}; nibbles as Q4_0;
 * {@code y = d * q + m}.
 */
public final class Q4_1Tensor extends AbstractTensor {

    public Q4_1Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q4_1, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        float m = Simd.f16(data, bo + 2);
        for (int j = 0; j < 16; j++) {
            int q = Simd.u8(data, bo + 4 + j);
            out[off + j] = d * (q & 0x0F) + m;
            out[off + j + 16] = d * (q >>> 4) + m;
        }
    }
}
