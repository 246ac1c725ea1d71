/**
 * Weight matrices, one class per storage format (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K .. Q8_K,
 * IQ4_NL, IQ3_S), built by {@link io.gemmaserving.runtime.engine.tensor.Tensors#of} over bytes that stay in a
 * (mapped) {@link java.lang.foreign.MemorySegment}. Each has the scalar reference dot, a JDK Vector API dot and
 * row dequantization; the layouts follow ggml's {@code dequantize_row_*} and are tested bit for bit against
 * gguf-py. {@link io.gemmaserving.runtime.engine.tensor.AbstractTensor#dotRows} runs a row range per format so that
 * its kernel inlines into a loop of its own.
 */
package io.gemmaserving.runtime.engine.tensor;
