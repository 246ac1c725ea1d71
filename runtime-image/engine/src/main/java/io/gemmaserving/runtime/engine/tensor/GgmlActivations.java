package io.gemmaserving.runtime.engine.tensor;

/**
 * llama.cpp's rounding of the activations of a matrix product, reproduced in float. ggml's CPU backend does not
 * multiply quantized weights with float activations: it first quantizes each activation row to the weight type's
 * {@code vec_dot_type} (Q8_0 blocks of 32 for Q4_0/Q5_0/Q8_0/IQ4_NL weights, Q8_K blocks of 256 for the k-quants,
 * fp16 for F16, bf16 for BF16) and then takes integer dot products. {@link #round} gives the activations those
 * integer products see, {@code x' = d * q} per block, so that a float kernel on {@code x'} computes what llama.cpp
 * computes up to float summation order (about 1e-7 relative; the rounding of {@code x} itself moves logits by
 * tenths, which is why llama.cpp's greedy choices differ from an exact float implementation at near-ties).
 *
 * <p>The rounding follows ggml's x86 code: {@code quantize_row_q8_0} (scale {@code amax/127} stored as fp16,
 * values {@code round_half_even(x * 127/amax)}) and {@code quantize_row_q8_K_ref} (scale {@code 1/(-127/max)} kept in
 * float, {@code max} the element of largest magnitude, values {@code min(127, round_half_even(x * -127/max))}).
 * Q8_1 (for Q4_1/Q5_1 weights) rounds values as Q8_0; its fp16 block sum, which ggml uses for the weights' min
 * term, is not reproduced (a difference of one fp16 rounding of that term).
 */
public final class GgmlActivations {

    private GgmlActivations() {
    }

    /** The activation format ggml's CPU backend multiplies weights of {@code weights} with. */
    public static TensorType vecDotType(TensorType weights) {
        return switch (weights) {
            case F32 -> TensorType.F32;
            case F16 -> TensorType.F16;
            case BF16 -> TensorType.BF16;
            case Q4_0, Q5_0, Q8_0, IQ4_NL -> TensorType.Q8_0;
            case Q4_1, Q5_1, Q8_1 -> TensorType.Q8_1;
            case Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ3_S -> TensorType.Q8_K;
        };
    }

    /**
     * {@code out[o .. o+n) = } what ggml's quantization of {@code x[i .. i+n)} to {@code vecDotType(weights)} stands
     * for. {@code n} is one row: a whole number of the format's blocks.
     */
    public static void round(TensorType weights, float[] x, int i, float[] out, int o, int n) {
        switch (vecDotType(weights)) {
            case F32 -> System.arraycopy(x, i, out, o, n);
            case F16 -> toF16(x, i, out, o, n);
            case BF16 -> {
                for (int j = 0; j < n; j++) {
                    out[o + j] = bf16(x[i + j]);
                }
            }
            case Q8_0, Q8_1 -> {
                for (int b = 0; b < n; b += 32) {
                    q8_0(x, i + b, out, o + b);
                }
            }
            default -> { // Q8_K
                for (int b = 0; b < n; b += 256) {
                    q8K(x, i + b, out, o + b);
                }
            }
        }
    }

    /** {@code out[o .. o+n) = x[i .. i+n)} rounded to fp16 (nearest even, as F16C does) and back; may be in place. */
    public static void toF16(float[] x, int i, float[] out, int o, int n) {
        for (int j = 0; j < n; j++) {
            out[o + j] = Float.float16ToFloat(Float.floatToFloat16(x[i + j]));
        }
    }

    /** ggml's {@code GGML_FP32_TO_BF16}: round to nearest even (a NaN stays a NaN), back to float. */
    static float bf16(float f) {
        int u = Float.floatToRawIntBits(f);
        int h = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 64 : (u + (0x7fff + ((u >>> 16) & 1))) >>> 16;
        return Float.intBitsToFloat(h << 16);
    }

    /** One Q8_0 block of 32 (ggml x86 {@code quantize_row_q8_0}). */
    static void q8_0(float[] x, int i, float[] out, int o) {
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            amax = Math.max(amax, Math.abs(x[i + j]));
        }
        float d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f)); // stored as fp16
        float id = amax != 0 ? 127f / amax : 0f;
        for (int j = 0; j < 32; j++) {
            out[o + j] = d * (float) Math.rint(x[i + j] * id); // _MM_ROUND_NEAREST: half to even
        }
    }

    /** One Q8_K block of 256 (ggml {@code quantize_row_q8_K_ref}, which x86 and the AMX path both call). */
    static void q8K(float[] x, int i, float[] out, int o) {
        float max = 0, amax = 0;
        for (int j = 0; j < 256; j++) {
            float ax = Math.abs(x[i + j]);
            if (ax > amax) {
                amax = ax;
                max = x[i + j];
            }
        }
        if (amax == 0) {
            java.util.Arrays.fill(out, o, o + 256, 0f);
            return;
        }
        float iscale = -127f / max;
        float d = 1 / iscale;
        for (int j = 0; j < 256; j++) {
            // nearest_int: the 1.5 * 2^23 trick, round half to even
            out[o + j] = d * Math.min(127f, (float) Math.rint(iscale * x[i + j]));
        }
    }
}
