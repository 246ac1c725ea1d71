package io.gemmaserving.runtime.engine.tensor;

import static io.gemmaserving.runtime.engine.tensor.Simd.F;
import static io.gemmaserving.runtime.engine.tensor.Simd.L;
import static io.gemmaserving.runtime.engine.tensor.Simd.LE;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** GGML_TYPE_F32: 4-byte little-endian IEEE floats. */
public final class F32Tensor extends AbstractTensor {

    public F32Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.F32, rows, cols, data);
    }

    @Override
    protected void dequantizeBlock(long blockOffset, float[] out, int off) {
        out[off] = data.get(Simd.FLOAT, blockOffset);
    }

    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        MemorySegment.copy(data, Simd.FLOAT, rowOffset(row), out, off, cols);
    }

    @Override
    public float dotScalar(long row, float[] x, int xOff) {
        long base = rowOffset(row);
        float sum = 0f;
        for (int i = 0; i < cols; i++) {
            sum += data.get(Simd.FLOAT, base + 4L * i) * x[xOff + i];
        }
        return sum;
    }

    @Override
    public float dotVector(long row, float[] x, int xOff) {
        long base = rowOffset(row);
        FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= cols - 2 * L; i += 2 * L) {
            s0 = FloatVector.fromMemorySegment(F, data, base + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), s0);
            s1 = FloatVector.fromMemorySegment(F, data, base + 4L * (i + L), LE).fma(FloatVector.fromArray(F, x, xOff + i + L), s1);
        }
        for (; i <= cols - L; i += L) {
            s0 = FloatVector.fromMemorySegment(F, data, base + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), s0);
        }
        float sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) {
            sum += data.get(Simd.FLOAT, base + 4L * i) * x[xOff + i];
        }
        return sum;
    }

    /** The same loop as {@link AbstractTensor#dotRows}, here so that {@link #dotVector} inlines monomorphically. */
    @Override
    public void dotRows(float[] x, float[] out, int batch, int r0, int r1) {
        int n = (int) rows;
        int per = streamRows(r0, r1);
        for (int q = 0; q < per; q++) {
            for (int r = r0 + q; r < r1; r += per) {
                for (int b = 0; b < batch; b++) {
                    out[b * n + r] = dotVector(r, x, b * cols);
                }
            }
        }
    }

    /** The same loop as {@link AbstractTensor#dequantizeRows}, here so that {@link #dequantizeRow} inlines. */
    @Override
    public void dequantizeRows(long r0, int count, float[] out, int off) {
        for (int i = 0; i < count; i++) {
            dequantizeRow(r0 + i, out, off + i * cols);
        }
    }
}
