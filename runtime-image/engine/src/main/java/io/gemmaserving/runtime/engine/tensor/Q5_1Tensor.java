package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

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
}
