package io.gemmaserving.runtime.engine.tensor;

import static io.gemmaserving.runtime.engine.tensor.Simd.F;
import static io.gemmaserving.runtime.engine.tensor.Simd.I;
import static io.gemmaserving.runtime.engine.tensor.Simd.L;
import static io.gemmaserving.runtime.engine.tensor.Simd.LE;
import static io.gemmaserving.runtime.engine.tensor.Simd.S;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/** GGML_TYPE_BF16 (and safetensors BF16): the upper 16 bits of an IEEE float. */
public final class BF16Tensor extends AbstractTensor {

    public BF16Tensor(String name, long rows, int cols, MemorySegment data) {
        super(name, TensorType.BF16, rows, cols, data);
    }

    private float at(long off) {
        return Float.intBitsToFloat(data.get(Simd.SHORT, off) << 16);
    }

    @Override
    protected void dequantizeBlock(long blockOffset, float[] out, int off) {
        out[off] = at(blockOffset);
    }

    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        long base = rowOffset(row);
        for (int i = 0; i < cols; i++) {
            out[off + i] = at(base + 2L * i);
        }
    }

    @Override
    public float dotScalar(long row, float[] x, int xOff) {
        long base = rowOffset(row);
        float sum = 0f;
        for (int i = 0; i < cols; i++) {
            sum += at(base + 2L * i) * x[xOff + i];
        }
        return sum;
    }

    /** L shorts -> L ints (sign-extended) -> shift left 16 -> the same bits read as floats. */
    private FloatVector load(long off) {
        ShortVector s = ShortVector.fromMemorySegment(S, data, off, LE);
        return ((IntVector) s.castShape(I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    @Override
    public float dotVector(long row, float[] x, int xOff) {
        if (!Simd.QUANT_OK) {
            return super.dotVector(row, x, xOff);
        }
        long base = rowOffset(row);
        FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= cols - 2 * L; i += 2 * L) {
            s0 = load(base + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), s0);
            s1 = load(base + 2L * (i + L)).fma(FloatVector.fromArray(F, x, xOff + i + L), s1);
        }
        for (; i <= cols - L; i += L) {
            s0 = load(base + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), s0);
        }
        float sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < cols; i++) {
            sum += at(base + 2L * i) * x[xOff + i];
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
