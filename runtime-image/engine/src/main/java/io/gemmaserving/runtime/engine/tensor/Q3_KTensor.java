package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

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
}
