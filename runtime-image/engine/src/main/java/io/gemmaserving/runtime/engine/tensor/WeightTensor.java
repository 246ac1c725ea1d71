package io.gemmaserving.runtime.engine.tensor;

/**
 * A 2-D weight matrix of shape [rows x cols], row-major, in one storage format (F32, F16, BF16, Q8_0, Q4_K, ...).
 * One implementation class per format; the bytes stay where the file put them (a memory-mapped
 * {@link java.lang.foreign.MemorySegment}), never copied onto the heap.
 *
 * <p>A 1-D tensor (a norm weight of length n) is a matrix of 1 row and n columns.
 */
public interface WeightTensor {

    /** Tensor name as the file names it, e.g. {@code blk.0.attn_q.weight}. */
    String name();

    /** Storage format. */
    TensorType type();

    /** Number of rows (output features for a projection). */
    long rows();

    /** Number of columns (input features); a whole number of the type's blocks. */
    int cols();

    /** Writes row {@code row} as floats into {@code out[off .. off + cols)}. */
    void dequantizeRow(long row, float[] out, int off);

    /** Reference dot product of row {@code row} with {@code x[xOff .. xOff + cols)}, in plain scalar Java. */
    float dotScalar(long row, float[] x, int xOff);

    /** The same dot product with the JDK Vector API; must agree with {@link #dotScalar} within rounding. */
    float dotVector(long row, float[] x, int xOff);

    /** Bytes a matrix-vector product reads from memory: the stored bytes, or those of the layout the kernel streams. */
    default long streamedBytes() {
        return type().bytesFor(rows() * cols());
    }
}
