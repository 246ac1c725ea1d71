package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/** GGML_TYPE_F16: IEEE half floats. The vector dot converts a row into a thread-local buffer first. */
public final class F16Tensor extends AbstractTensor {

    public F16Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.F16, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long blockOffset, float[] out, int off) {
        out[off] = Simd.f16(data, blockOffset);
    }

    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        long base = rowOffset(row);
        for (int i = 0; i < cols; i++) {
            out[off + i] = Simd.f16(data, base + 2L * i);
        }
    }

    @Override
    public float dotScalar(long row, float[] x, int xOff) {
        long base = rowOffset(row);
        float sum = 0f;
        for (int i = 0; i < cols; i++) {
            sum += Simd.f16(data, base + 2L * i) * x[xOff + i];
        }
        return sum;
    }
}
