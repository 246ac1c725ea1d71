package io.gemmaserving.runtime.engine.model;

/**
 * How the forward pass rounds its intermediate values. The weights are the same either way; only the activations
 * differ.
 */
public enum Numerics {
    /**
     * Float32 activations everywhere (float64 where a sum of squares needs it): what Hugging Face transformers
     * computes in float32 on the same dequantized weights (within 3e-5 in the logits of the 270M). The default.
     */
    F32,
    /**
     * llama.cpp's CPU rounding, for comparing with llama.cpp token for token: the activations of every quantized
     * matrix product rounded to ggml's 8-bit blocks ({@link io.gemmaserving.runtime.engine.tensor.GgmlActivations}),
     * GELU read from ggml's fp16 table, RMS norm scales and RoPE angles computed in float as ggml does (the angle by
     * repeated multiplication), queries, keys and values rounded to fp16 (llama.cpp's default KV cache), and
     * attention one key at a time, as llama.cpp's CPU flash attention goes (not in tiles of keys, whose other
     * summation order moved the comparison from 5 to 4 of 10 prompts exact). Less accurate than {@link #F32}; no faster here (the rounding is emulated, the kernels stay float).
     */
    GGML
}
