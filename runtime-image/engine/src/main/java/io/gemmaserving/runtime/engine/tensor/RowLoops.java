package io.gemmaserving.runtime.engine.tensor;

/**
 * One row loop for every format, as Jlama's backend does it: the loop is shared, and each row's kernel is picked
 * by a switch over the tensor's type, every arm calling the kernel on its final class. Every arm's call then has
 * one exact receiver class, so C2 binds and inlines it statically whatever formats the shared call site has seen;
 * a plain virtual call here would go megamorphic once a model mixes formats, and an un-inlined Vector API kernel
 * loses its intrinsics. Formats with no fused kernel of their own take the virtual default.
 *
 * <p>Not the serving path: {@code VectorBackend} runs each format's own {@link AbstractTensor#dotRows} and
 * {@link AbstractTensor#dequantizeRows}. Here every format's kernel is compiled into one method, whose compilations
 * depend on the order formats arrive in; {@code RowLoopBench} (bench module) times both, and in two JVMs of four
 * this loop ran the Q8_0 output head's decode product 2.1-2.4x slower throughout (docs/performance.md).
 */
public final class RowLoops {

    private RowLoops() {
    }

    /**
     * {@code out[b * rows + r] = t.dotVector(r, x, b * cols)} for rows [r0, r1) and activation rows
     * {@code b < batch}, rows visited as {@link AbstractTensor#streamRows} interleaved runs.
     */
    public static void dotRows(AbstractTensor t, float[] x, float[] out, int batch, int r0, int r1) {
        int n = (int) t.rows;
        int cols = t.cols;
        int per = AbstractTensor.streamRows(r0, r1);
        for (int q = 0; q < per; q++) {
            for (int r = r0 + q; r < r1; r += per) {
                for (int b = 0; b < batch; b++) {
                    out[b * n + r] = dot(t, r, x, b * cols);
                }
            }
        }
    }

    /** Rows [r0, r0 + count) dequantized into {@code out} back to back. */
    public static void dequantizeRows(AbstractTensor t, long r0, int count, float[] out, int off) {
        int cols = t.cols;
        for (int i = 0; i < count; i++) {
            dequantize(t, r0 + i, out, off + i * cols);
        }
    }

    /** {@link AbstractTensor#dotVector}, bound to the final class. */
    static float dot(AbstractTensor t, long row, float[] x, int xOff) {
        return switch (t.type) {
            case Q8_0 -> ((Q8_0Tensor) t).dotVector(row, x, xOff);
            case Q4_K -> ((Q4_KTensor) t).dotVector(row, x, xOff);
            case Q6_K -> ((Q6_KTensor) t).dotVector(row, x, xOff);
            case Q5_0 -> ((Q5_0Tensor) t).dotVector(row, x, xOff);
            case Q5_K -> ((Q5_KTensor) t).dotVector(row, x, xOff);
            case Q4_0 -> ((Q4_0Tensor) t).dotVector(row, x, xOff);
            case Q4_1 -> ((Q4_1Tensor) t).dotVector(row, x, xOff);
            case Q5_1 -> ((Q5_1Tensor) t).dotVector(row, x, xOff);
            case IQ4_NL -> ((IQ4_NLTensor) t).dotVector(row, x, xOff);
            case F32 -> ((F32Tensor) t).dotVector(row, x, xOff);
            case BF16 -> ((BF16Tensor) t).dotVector(row, x, xOff);
            case Q2_K -> ((Q2_KTensor) t).dotVector(row, x, xOff);
            case Q3_K -> ((Q3_KTensor) t).dotVector(row, x, xOff);
            default -> t.dotVector(row, x, xOff);
        };
    }

    /** {@link AbstractTensor#dequantizeRow}, bound to the final class. */
    static void dequantize(AbstractTensor t, long row, float[] out, int off) {
        switch (t.type) {
            case Q8_0 -> ((Q8_0Tensor) t).dequantizeRow(row, out, off);
            case Q4_K -> ((Q4_KTensor) t).dequantizeRow(row, out, off);
            case Q6_K -> ((Q6_KTensor) t).dequantizeRow(row, out, off);
            case Q5_0 -> ((Q5_0Tensor) t).dequantizeRow(row, out, off);
            case Q5_K -> ((Q5_KTensor) t).dequantizeRow(row, out, off);
            case Q4_0 -> ((Q4_0Tensor) t).dequantizeRow(row, out, off);
            case Q2_K -> ((Q2_KTensor) t).dequantizeRow(row, out, off);
            case Q3_K -> ((Q3_KTensor) t).dequantizeRow(row, out, off);
            case F32 -> ((F32Tensor) t).dequantizeRow(row, out, off);
            case BF16 -> ((BF16Tensor) t).dequantizeRow(row, out, off);
            default -> t.dequantizeRow(row, out, off);
        }
    }
}
