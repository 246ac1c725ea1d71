package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.tensor.WeightTensor;

/**
 * Where the large matrix products run. The scalar backend is the reference the others are tested against;
 * the Vector API backend is the CPU default. Chosen at start-up from the engine's options and logged.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and metrics: {@code scalar}, {@code vector}, {@code cuda}. */
    String name();

    /**
     * Batched matrix product: {@code out[b * w.rows() + r] = dot(W[r, :], x[b * w.cols() .. +cols))} for every
     * {@code b < batch} and {@code r < w.rows()}. Batched prefill and batched decode both come through here,
     * so one pass over the weights serves every sequence in the batch.
     *
     * @param w     weights [rows x cols]
     * @param x     activations [batch x cols], row-major
     * @param out   results [batch x rows], row-major
     * @param batch number of activation rows
     */
    void matmul(WeightTensor w, float[] x, float[] out, int batch);

    /**
     * Dot product of {@code a[aOff..aOff+n)} and {@code b[bOff..bOff+n)}: attention's query-key scores. The default
     * is the scalar reference (four float accumulators) that faster backends are tested against.
     */
    default float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[aOff + i] * b[bOff + i];
            s1 += a[aOff + i + 1] * b[bOff + i + 1];
            s2 += a[aOff + i + 2] * b[bOff + i + 2];
            s3 += a[aOff + i + 3] * b[bOff + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[aOff + i] * b[bOff + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * {@code y[yOff..yOff+n) += alpha * x[xOff..xOff+n)}: attention's softmax-weighted sum of value rows. The default
     * is the scalar reference.
     */
    default void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    /**
     * {@link #dot} against fp16 values ({@code b} holds IEEE half bits, as an f16 KV cache stores keys). The default
     * is the scalar reference: each half widened exactly, then as {@link #dot}.
     */
    default float dotF16(float[] a, int aOff, short[] b, int bOff, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[aOff + i] * Float.float16ToFloat(b[bOff + i]);
            s1 += a[aOff + i + 1] * Float.float16ToFloat(b[bOff + i + 1]);
            s2 += a[aOff + i + 2] * Float.float16ToFloat(b[bOff + i + 2]);
            s3 += a[aOff + i + 3] * Float.float16ToFloat(b[bOff + i + 3]);
        }
        for (; i < n; i++) {
            s0 += a[aOff + i] * Float.float16ToFloat(b[bOff + i]);
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** {@link #axpy} from fp16 values (an f16 KV cache's values). The default is the scalar reference. */
    default void axpyF16(float alpha, short[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += alpha * Float.float16ToFloat(x[xOff + i]);
        }
    }

    /** {@code dst[dOff..dOff+n)} = the IEEE halves {@code h[off..off+n)} widened (exactly) to floats. */
    default void widenF16(short[] h, int off, float[] dst, int dOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dOff + i] = Float.float16ToFloat(h[off + i]);
        }
    }

    /*
     * Blocked attention (a block of queries against a tile of keys, as flash attention does): queries are the columns
     * of qT [n x nq] (query i's element d at qT[d * nq + i]), keys and values the rows of k, v [nk x n], and scores
     * and probabilities the rows of s [nk x nq], so every loop over queries runs along contiguous memory.
     */

    /** Scores of a tile: {@code s[j * nq + i] = dot(k[j * n ..], query i)} for {@code j < nk, i < nq}. */
    default void attentionScores(float[] qT, int nq, float[] k, int nk, int n, float[] s) {
        for (int j = 0; j < nk; j++) {
            for (int i = 0; i < nq; i++) {
                float acc = 0f;
                for (int d = 0; d < n; d++) {
                    acc += k[j * n + d] * qT[d * nq + i];
                }
                s[j * nq + i] = acc;
            }
        }
    }

    /**
     * The online softmax over one tile of scores, per query {@code i < nq}: {@code m' = max(max[i], s[j][i] over j)},
     * {@code scale[i] = exp(max[i] - m')}, {@code s[j][i] = exp(s[j][i] - m')},
     * {@code sum[i] = sum[i] * scale[i] + sum_j s[j][i]}, {@code max[i] = m'}. Masked scores hold
     * {@code -Float.MAX_VALUE} (not -infinity, so that a column masked so far gives exp(0), never NaN; its
     * scale becomes exp(-MAX_VALUE - m) = 0 once a real score arrives, which wipes what it added).
     */
    default void softmaxTile(float[] s, int nq, int nk, float[] max, float[] sum, float[] scale) {
        softmaxColumns(s, nq, nk, max, sum, scale, 0);
    }

    /** {@link #softmaxTile} for the queries {@code from <= i < nq} alone, in scalar code (the vector kernel's tail). */
    static void softmaxColumns(float[] s, int nq, int nk, float[] max, float[] sum, float[] scale, int from) {
        for (int i = from; i < nq; i++) {
            float m = max[i];
            for (int j = 0; j < nk; j++) {
                m = Math.max(m, s[j * nq + i]);
            }
            float total = 0f;
            for (int j = 0; j < nk; j++) {
                float e = (float) Math.exp(s[j * nq + i] - m);
                s[j * nq + i] = e;
                total += e;
            }
            scale[i] = (float) Math.exp(max[i] - m);
            sum[i] = sum[i] * scale[i] + total;
            max[i] = m;
        }
    }

    /**
     * The values of a tile into the output block {@code oT [n x nq]} (query i's element d at {@code oT[d * nq + i]}):
     * {@code oT[d][i] = oT[d][i] * scale[i] + sum_j p[j * nq + i] * v[j * n + d]}.
     */
    default void attentionValues(float[] p, int nq, float[] v, int nk, int n, float[] scale, float[] oT) {
        for (int d = 0; d < n; d++) {
            for (int i = 0; i < nq; i++) {
                float acc = oT[d * nq + i] * scale[i];
                for (int j = 0; j < nk; j++) {
                    acc += p[j * nq + i] * v[j * n + d];
                }
                oT[d * nq + i] = acc;
            }
        }
    }

    /**
     * GeGLU, in place: {@code gate[i] = gelu_tanh(gate[i]) * up[i]} for {@code i} in {@code [off, off + n)}, with
     * {@code gelu_tanh(x) = 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u))}, {@code u = sqrt(2/pi) (x + 0.044715 x^3)}.
     * The default is the scalar reference (in double).
     */
    default void geglu(float[] gate, float[] up, int off, int n) {
        for (int i = off; i < off + n; i++) {
            double x = gate[i];
            double u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
            gate[i] = (float) (x / (1.0 + Math.exp(-2.0 * u))) * up[i];
        }
    }

    /**
     * Threads this backend runs {@link #parallelFor} on; 1 (the default) means the caller alone, and the model then
     * uses threads of its own for attention and element-wise work.
     */
    default int parallelism() {
        return 1;
    }

    /**
     * Runs {@code body.accept(i)} for every {@code i < n}, on the backend's threads when it has some. The body must
     * not call back into {@link #matmul} or {@code parallelFor} (the threads are already taken).
     */
    default void parallelFor(int n, java.util.function.IntConsumer body) {
        for (int i = 0; i < n; i++) {
            body.accept(i);
        }
    }

    @Override
    default void close() {
    }
}
