package io.gemmaserving.operator.api;

/**
 * Storage type of the weights, as GGUF and Hugging Face name them. Used for sizing: the bits per weight below are
 * effective figures (llama.cpp's quantize table: k-quant mixes keep some tensors at higher precision).
 */
public enum Quantization {
    bf16(16.0), f16(16.0), q8_0(8.5), q6_k(6.5625), q5_k_m(5.69), q4_k_m(4.89), q4_0(4.55),
    q3_k_m(3.91), q2_k(3.35), iq4_nl(4.5), iq3_s(3.44);

    public final double bitsPerWeight;

    Quantization(double bitsPerWeight) {
        this.bitsPerWeight = bitsPerWeight;
    }

    public double bytesPerParameter() {
        return bitsPerWeight / 8.0;
    }
}
