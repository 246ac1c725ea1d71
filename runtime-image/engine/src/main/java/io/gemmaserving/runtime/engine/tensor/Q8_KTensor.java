package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * GGML_TYPE_Q8_K, super-block of 256 in 292 bytes: {@code float d; int8 qs[256]; int16 bsums[16]} (bsums are
 * group sums used by ggml's dot products, not needed to dequantize); {@code y = d * qs}.
 */
public final class Q8_KTensor extends AbstractTensor {

    public Q8_KTensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.Q8_K, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = data.get(Simd.FLOAT, bo);
        for (int i = 0; i < 256; i++) {
            out[off + i] = d * Simd.i8(data, bo + 4 + i);
        }
    }
}
