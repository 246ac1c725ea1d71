package io.gemmaserving.runtime.engine.gguf;

import io.gemmaserving.runtime.engine.tensor.TensorType;

/**
 * One tensor as the GGUF header describes it.
 *
 * @param name           e.g. {@code blk.0.attn_q.weight}
 * @param type           storage format
 * @param dims           dimensions as GGUF gives them: {@code dims[0]} = ne[0] = columns (the innermost,
 *                       contiguous dimension), {@code dims[1]} = rows, ...
 * @param offset         byte offset relative to the start of the tensor data section
 * @param fileOffset     absolute byte offset in the file
 * @param bytes          bytes the tensor takes
 */
public record GgufTensorInfo(String name, TensorType type, long[] dims, long offset, long fileOffset, long bytes) {

    /** ne[0]: elements per row. */
    public long cols() {
        return dims[0];
    }

    /** Product of ne[1..]: a 1-D tensor is 1 row, a 3-D one is flattened to ne[1]*ne[2] rows. */
    public long rows() {
        long rows = 1;
        for (int i = 1; i < dims.length; i++) {
            rows *= dims[i];
        }
        return rows;
    }

    public long elements() {
        return rows() * cols();
    }
}
