package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.tensor.GgmlActivations;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;

/**
 * Another backend's kernels on activations rounded as llama.cpp rounds them ({@link GgmlActivations}): for
 * comparing with llama.cpp token for token (numerics {@code ggml}). Costs one pass over the activations per
 * product (a copy and a rounding of {@code batch x cols} floats), nothing per weight.
 */
public final class GgmlRoundingBackend implements Backend {

    private static final ThreadLocal<float[]> ROUNDED = ThreadLocal.withInitial(() -> new float[0]);

    private final Backend inner;

    public GgmlRoundingBackend(Backend inner) {
        this.inner = inner;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public void matmul(WeightTensor w, float[] x, float[] out, int batch) {
        Backends.checkShapes(w, x, out, batch);
        int cols = w.cols();
        float[] r = ROUNDED.get();
        if (r.length < batch * cols) {
            r = new float[batch * cols];
            ROUNDED.set(r);
        }
        for (int b = 0; b < batch; b++) {
            GgmlActivations.round(w.type(), x, b * cols, r, b * cols, cols);
        }
        inner.matmul(w, r, out, batch);
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return inner.dot(a, aOff, b, bOff, n);
    }

    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        inner.axpy(alpha, x, xOff, y, yOff, n);
    }

    @Override
    public float dotF16(float[] a, int aOff, short[] b, int bOff, int n) {
        return inner.dotF16(a, aOff, b, bOff, n);
    }

    @Override
    public void axpyF16(float alpha, short[] x, int xOff, float[] y, int yOff, int n) {
        inner.axpyF16(alpha, x, xOff, y, yOff, n);
    }

    @Override
    public void widenF16(short[] h, int off, float[] dst, int dOff, int n) {
        inner.widenF16(h, off, dst, dOff, n);
    }

    @Override
    public void attentionScores(float[] qT, int nq, float[] k, int nk, int n, float[] s) {
        inner.attentionScores(qT, nq, k, nk, n, s);
    }

    @Override
    public void softmaxTile(float[] s, int nq, int nk, float[] max, float[] sum, float[] scale) {
        inner.softmaxTile(s, nq, nk, max, sum, scale);
    }

    @Override
    public void attentionValues(float[] p, int nq, float[] v, int nk, int n, float[] scale, float[] oT) {
        inner.attentionValues(p, nq, v, nk, n, scale, oT);
    }

    @Override
    public void geglu(float[] gate, float[] up, int off, int n) {
        inner.geglu(gate, up, off, n);
    }

    @Override
    public int parallelism() {
        return inner.parallelism();
    }

    @Override
    public void parallelFor(int n, java.util.function.IntConsumer body) {
        inner.parallelFor(n, body);
    }

    @Override
    public void close() {
        inner.close();
    }
}
