package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/** Builds the {@link WeightTensor} class for a storage format over bytes that stay where they are. */
public final class Tensors {

    private Tensors() {
    }

    /**
     * A [rows x cols] tensor of {@code type} over {@code data} (row-major, {@code rows * type.bytesFor(cols)}
     * bytes at least).
     *
     * @throws UnsupportedOperationException for a type that has no implementation here (Q8_1)
     * @throws IllegalArgumentException      for a shape that is not whole blocks or a segment too short
     */
    public static WeightTensor of(String name, TensorType type, long rows, int cols, MemorySegment data) {
        return switch (type) {
            case F32 -> new F32Tensor(name, rows, cols, data);
            case F16 -> new F16Tensor(name, rows, cols, data);
            case BF16 -> new BF16Tensor(name, rows, cols, data);
            case Q8_0 -> new Q8_0Tensor(name, rows, cols, data);
            case Q4_0 -> new Q4_0Tensor(name, rows, cols, data);
            case Q4_1 -> new Q4_1Tensor(name, rows, cols, data);
            case Q5_0 -> new Q5_0Tensor(name, rows, cols, data);
            case Q5_1 -> new Q5_1Tensor(name, rows, cols, data);
            case Q2_K -> new Q2_KTensor(name, rows, cols, data);
            case Q3_K -> new Q3_KTensor(name, rows, cols, data);
            case Q4_K -> new Q4_KTensor(name, rows, cols, data);
            case Q5_K -> new Q5_KTensor(name, rows, cols, data);
            case Q6_K -> new Q6_KTensor(name, rows, cols, data);
            case Q8_K -> new Q8_KTensor(name, rows, cols, data);
            case IQ4_NL -> new IQ4_NLTensor(name, rows, cols, data);
            case IQ3_S -> new IQ3_STensor(name, rows, cols, data);
            default -> throw new UnsupportedOperationException(
                    "tensor " + name + " has type " + type + ", which this engine cannot compute with");
        };
    }

}
