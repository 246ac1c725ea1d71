package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * GGML_TYPE_IQ4_NL, block of 32 in 18 bytes: {@code fp16 d; uint8 qs[16]}; nibbles as Q4_0 index a fixed
 * non-linear table ({@code kvalues_iq4nl}); {@code y = d * table[q]}.
 */
public final class IQ4_NLTensor extends AbstractTensor {

    private static final int[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

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
}
