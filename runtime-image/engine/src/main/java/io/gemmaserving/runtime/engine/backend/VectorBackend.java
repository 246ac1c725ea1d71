package io.gemmaserving.runtime.engine.backend;

import static io.gemmaserving.runtime.engine.tensor.Simd.F;
import static io.gemmaserving.runtime.engine.tensor.Simd.L;

import io.gemmaserving.runtime.engine.tensor.AbstractTensor;
import io.gemmaserving.runtime.engine.tensor.RowLoops;
import io.gemmaserving.runtime.engine.tensor.Simd;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The CPU backend: JDK Vector API kernels, rows split over a fixed pool of threads (the caller is one of them).
 *
 * <p>Batch 1 (decode) calls {@link WeightTensor#dotVector} per row: the quantized bytes stream from memory once
 * and are decoded in registers. For a larger batch (prefill, batched decode) each thread takes a tile of
 * {@value #TILE} rows, dequantizes it once into a per-thread float buffer (it stays in L2), and multiplies it with
 * every activation row, four weight rows by four activation rows at a time (two by one at the edges): the weights come from memory once per
 * matmul, not once per token, and decoding costs once per tile instead of once per token.
 */
public final class VectorBackend implements Backend {

    /** Rows dequantized together for batched products. */
    static final int TILE = 16;
    /**
     * From this batch on, dequantize a tile and run float kernels; below it, fused dots per row and token.
     * Measured on the 270M (2 threads): at batch 2 and 3 the tiles already beat decoding each row per token.
     */
    static final int DEQUANT_BATCH = 2;
    /** Below this many weights a product runs on the calling thread alone: handing it out costs more. */
    static final long PARALLEL_MIN_ELEMENTS = 1 << 16;
    /**
     * Chunks each thread gets on average in a tiled (batched) product: many small ones, claimed dynamically, so
     * that a thread the OS deschedules for a while holds up the product by one small chunk at most.
     */
    static final int CHUNKS_PER_THREAD = 16;
    /**
     * The same for a fused (decode) product: fewer and longer, because {@link AbstractTensor#dotRows} streams each
     * chunk's rows from memory as interleaved runs, and runs of a few rows end before the hardware prefetchers are up to
     * speed. The 270M's layer products (a decode step's without the head), 2 threads, best of 150: 7.6-9.2 ms with
     * 16 chunks per thread, 6.1-6.4 ms with 4, 5.6-5.8 ms with 2; 4 keeps twice the chunks of 2 for a thread the
     * OS deschedules to give up (docs/performance.md).
     */
    static final int FUSED_CHUNKS_PER_THREAD = 4;

    private static final ThreadLocal<float[]> TILE_BUFFER = ThreadLocal.withInitial(() -> new float[0]);

    private final WorkerPool pool;
    /** Row loops: {@link RowLoops}' shared one (true) or each format's own copy (false). */
    private final boolean sharedRowLoop;

    /** @param threads compute threads including the caller; at least 1 */
    public VectorBackend(int threads) {
        this(threads, false);
    }

    /** For the benchmark that times the two row-loop shapes against each other in one JVM. */
    VectorBackend(int threads, boolean sharedRowLoop) {
        this.pool = new WorkerPool(threads, 200_000);
        this.sharedRowLoop = sharedRowLoop;
    }

    @Override
    public String name() {
        return "vector";
    }

    public int threads() {
        return pool.threads();
    }

    @Override
    public void matmul(WeightTensor w, float[] x, float[] out, int batch) {
        int rows = Backends.checkShapes(w, x, out, batch);
        int cols = w.cols();
        boolean tiled = batch >= DEQUANT_BATCH;
        int threads = (long) rows * cols < PARALLEL_MIN_ELEMENTS ? 1 : pool.threads();
        int chunks = threads * (tiled ? CHUNKS_PER_THREAD : FUSED_CHUNKS_PER_THREAD);
        int per = Math.max(tiled ? TILE : 16, (rows + chunks - 1) / chunks);
        if (tiled) {
            per = (per + TILE - 1) / TILE * TILE;
        }
        int chunkRows = per;
        int nChunks = (rows + chunkRows - 1) / chunkRows;
        WorkerPool.Body body = tiled
                ? c -> tiledRows(w, x, out, batch, c * chunkRows, Math.min(rows, (c + 1) * chunkRows), sharedRowLoop)
                : c -> fusedRows(w, x, out, batch, c * chunkRows, Math.min(rows, (c + 1) * chunkRows), sharedRowLoop);
        if (threads == 1) {
            for (int c = 0; c < nChunks; c++) {
                body.run(c);
            }
        } else {
            pool.run(nChunks, body);
        }
    }

    @Override
    public int parallelism() {
        return pool.threads();
    }

    /**
     * The matmul threads also run the model's attention and row-wise work: one set of threads for everything, so
     * that no second pool's threads compete with spinning matmul workers for the cores.
     */
    @Override
    public void parallelFor(int n, java.util.function.IntConsumer body) {
        pool.run(n, body::accept);
    }

    /** Attention's query-key dot: {@link Simd#dot}, four vector accumulators (head_dim 256 = 4 x 4 AVX-512 loads). */
    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return Simd.dot(a, aOff, b, bOff, n);
    }

    /** Attention's weighted value sum: one fused multiply-add per vector of {@code y}. */
    @Override
    public void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector a = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(a, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    /** {@link #dot} against fp16 keys: L halves widened in lanes ({@link #halves}), four accumulators. */
    @Override
    public float dotF16(float[] a, int aOff, short[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), s2 = FloatVector.zero(F), s3 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 4 * L; i += 4 * L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(halves(b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + L).fma(halves(b, bOff + i + L), s1);
            s2 = FloatVector.fromArray(F, a, aOff + i + 2 * L).fma(halves(b, bOff + i + 2 * L), s2);
            s3 = FloatVector.fromArray(F, a, aOff + i + 3 * L).fma(halves(b, bOff + i + 3 * L), s3);
        }
        for (; i <= n - L; i += L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(halves(b, bOff + i), s0);
        }
        float sum = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[aOff + i] * Float.float16ToFloat(b[bOff + i]);
        }
        return sum;
    }

    /** {@link #axpy} from fp16 values. */
    @Override
    public void axpyF16(float alpha, short[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector a = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (; i <= n - L; i += L) {
            halves(x, xOff + i).fma(a, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += alpha * Float.float16ToFloat(x[xOff + i]);
        }
    }

    /** {@link Backend#widenF16} a vector at a time ({@link #halves}). */
    @Override
    public void widenF16(short[] h, int off, float[] dst, int dOff, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            halves(h, off + i).intoArray(dst, dOff + i);
        }
        for (; i < n; i++) {
            dst[dOff + i] = Float.float16ToFloat(h[off + i]);
        }
    }

    @Override
    public void attentionScores(float[] qT, int nq, float[] k, int nk, int n, float[] s) {
        VectorAttention.scores(qT, nq, k, nk, n, s);
    }

    @Override
    public void softmaxTile(float[] s, int nq, int nk, float[] max, float[] sum, float[] scale) {
        VectorAttention.softmax(s, nq, nk, max, sum, scale);
    }

    @Override
    public void attentionValues(float[] p, int nq, float[] v, int nk, int n, float[] scale, float[] oT) {
        VectorAttention.values(p, nq, v, nk, n, scale, oT);
    }

    /**
     * L IEEE halves at {@code h[off]} widened to floats in lanes (the Vector API has no fp16 conversion): the
     * exponent and mantissa shifted into float position and scaled by 2^112 re-biases the exponent (subnormal
     * halves come out exact too, zero stays zero), then the sign is put back. Exact for every finite half;
     * infinities and NaNs, which keys and values never hold, come out as finite values of 2^16 and above.
     */
    static FloatVector halves(short[] h, int off) {
        IntVector bits = (IntVector) ShortVector.fromArray(Simd.S, h, off).convertShape(VectorOperators.S2I, Simd.I, 0);
        FloatVector magnitude = bits.and(0x7FFF).lanewise(VectorOperators.LSHL, 13).reinterpretAsFloats().mul(0x1p112f);
        return magnitude.reinterpretAsInts().or(bits.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /**
     * GeGLU in float lanes: {@code x / (1 + exp(-2u)) * up} with the Vector API's {@code EXP} (prefill spent a tenth
     * of its time in the scalar double {@code Math.exp} of the reference). Within a few float ulps of it.
     */
    @Override
    public void geglu(float[] gate, float[] up, int off, int n) {
        int i = off, end = off + n;
        for (; i <= end - L; i += L) {
            FloatVector x = FloatVector.fromArray(F, gate, i);
            FloatVector u = x.mul(x).mul(x).fma(FloatVector.broadcast(F, 0.044715f), x).mul(-2f * 0.7978845608028654f);
            x.div(u.lanewise(VectorOperators.EXP).add(1f)).mul(FloatVector.fromArray(F, up, i)).intoArray(gate, i);
        }
        if (i < end) {
            Backend.super.geglu(gate, up, i, end - i);
        }
    }

    /** Rows [r0, r1): for each row, its dot with every activation row while the row is in L1. */
    private static void fusedRows(WeightTensor w, float[] x, float[] out, int batch, int r0, int r1, boolean shared) {
        if (w instanceof AbstractTensor t) {
            if (shared) {
                RowLoops.dotRows(t, x, out, batch, r0, r1);
            } else {
                t.dotRows(x, out, batch, r0, r1); // the format's own loop: see AbstractTensor.dotRows
            }
            return;
        }
        int rows = (int) w.rows();
        int cols = w.cols();
        for (int r = r0; r < r1; r++) {
            for (int b = 0; b < batch; b++) {
                out[b * rows + r] = w.dotVector(r, x, b * cols);
            }
        }
    }

    private static void tiledRows(WeightTensor w, float[] x, float[] out, int batch, int r0, int r1, boolean shared) {
        int rows = (int) w.rows();
        int cols = w.cols();
        float[] tile = TILE_BUFFER.get();
        if (tile.length < TILE * cols) {
            tile = new float[TILE * cols];
            TILE_BUFFER.set(tile);
        }
        for (int t0 = r0; t0 < r1; t0 += TILE) {
            int n = Math.min(TILE, r1 - t0);
            if (w instanceof AbstractTensor t) {
                if (shared) {
                    RowLoops.dequantizeRows(t, t0, n, tile, 0);
                } else {
                    t.dequantizeRows(t0, n, tile, 0);
                }
            } else {
                for (int i = 0; i < n; i++) {
                    w.dequantizeRow(t0 + i, tile, i * cols);
                }
            }
            int i = 0;
            for (; i + 3 < n; i += 4) {
                int b = 0;
                for (; b + 3 < batch; b += 4) {
                    dot4x4(tile, i * cols, x, b * cols, cols, out, b * rows + t0 + i, rows);
                }
                rowPair(tile, i, x, b, batch, cols, out, rows, t0);
                rowPair(tile, i + 2, x, b, batch, cols, out, rows, t0);
            }
            for (; i + 1 < n; i += 2) {
                rowPair(tile, i, x, 0, batch, cols, out, rows, t0);
            }
            for (; i < n; i++) {
                for (int b = 0; b < batch; b++) {
                    out[b * rows + t0 + i] = Simd.dot(tile, i * cols, x, b * cols, cols);
                }
            }
        }
    }

    /** Tile rows i and i+1 times activation rows [b, batch). */
    private static void rowPair(float[] tile, int i, float[] x, int b, int batch, int cols, float[] out, int rows, int t0) {
        for (; b < batch; b++) {
            dot2x1(tile, i * cols, x, b * cols, cols, out, b * rows + t0 + i);
        }
    }

    /**
     * Four weight rows (at {@code wOff + j*n}) times four activation rows (at {@code xOff + k*n}): sixteen
     * accumulators, eight loads per sixteen FMAs (two by four needed six per eight: this is 20-30 % faster on the
     * 270M's prefill). 24 of AVX-512's 32 vector registers.
     * Results go to {@code out[o + k*stride + j]}.
     */
    private static void dot4x4(float[] w, int wOff, float[] x, int xOff, int n, float[] out, int o, int stride) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i);
            FloatVector x1 = FloatVector.fromArray(F, x, xOff + n + i);
            FloatVector x2 = FloatVector.fromArray(F, x, xOff + 2 * n + i);
            FloatVector x3 = FloatVector.fromArray(F, x, xOff + 3 * n + i);
            FloatVector w0 = FloatVector.fromArray(F, w, wOff + i);
            a00 = w0.fma(x0, a00);
            a01 = w0.fma(x1, a01);
            a02 = w0.fma(x2, a02);
            a03 = w0.fma(x3, a03);
            FloatVector w1 = FloatVector.fromArray(F, w, wOff + n + i);
            a10 = w1.fma(x0, a10);
            a11 = w1.fma(x1, a11);
            a12 = w1.fma(x2, a12);
            a13 = w1.fma(x3, a13);
            FloatVector w2 = FloatVector.fromArray(F, w, wOff + 2 * n + i);
            a20 = w2.fma(x0, a20);
            a21 = w2.fma(x1, a21);
            a22 = w2.fma(x2, a22);
            a23 = w2.fma(x3, a23);
            FloatVector w3 = FloatVector.fromArray(F, w, wOff + 3 * n + i);
            a30 = w3.fma(x0, a30);
            a31 = w3.fma(x1, a31);
            a32 = w3.fma(x2, a32);
            a33 = w3.fma(x3, a33);
        }
        // written out: vectors put in an array would be boxed (30x slower, measured)
        out[o] = sum(a00, w, wOff, x, xOff, i, n);
        out[o + stride] = sum(a01, w, wOff, x, xOff + n, i, n);
        out[o + 2 * stride] = sum(a02, w, wOff, x, xOff + 2 * n, i, n);
        out[o + 3 * stride] = sum(a03, w, wOff, x, xOff + 3 * n, i, n);
        out[o + 1] = sum(a10, w, wOff + n, x, xOff, i, n);
        out[o + stride + 1] = sum(a11, w, wOff + n, x, xOff + n, i, n);
        out[o + 2 * stride + 1] = sum(a12, w, wOff + n, x, xOff + 2 * n, i, n);
        out[o + 3 * stride + 1] = sum(a13, w, wOff + n, x, xOff + 3 * n, i, n);
        out[o + 2] = sum(a20, w, wOff + 2 * n, x, xOff, i, n);
        out[o + stride + 2] = sum(a21, w, wOff + 2 * n, x, xOff + n, i, n);
        out[o + 2 * stride + 2] = sum(a22, w, wOff + 2 * n, x, xOff + 2 * n, i, n);
        out[o + 3 * stride + 2] = sum(a23, w, wOff + 2 * n, x, xOff + 3 * n, i, n);
        out[o + 3] = sum(a30, w, wOff + 3 * n, x, xOff, i, n);
        out[o + stride + 3] = sum(a31, w, wOff + 3 * n, x, xOff + n, i, n);
        out[o + 2 * stride + 3] = sum(a32, w, wOff + 3 * n, x, xOff + 2 * n, i, n);
        out[o + 3 * stride + 3] = sum(a33, w, wOff + 3 * n, x, xOff + 3 * n, i, n);
    }

    /** The lanes of {@code acc} plus the scalar tail {@code [i, n)} of the dot of w and x at the given offsets. */
    private static float sum(FloatVector acc, float[] w, int wOff, float[] x, int xOff, int i, int n) {
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += w[wOff + i] * x[xOff + i];
        }
        return s;
    }

    /** Two weight rows (at {@code wOff}, {@code wOff + n}) times one activation row: results to out[o], out[o+1]. */
    private static void dot2x1(float[] w, int wOff, float[] x, int xOff, int n, float[] out, int o) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), c0 = FloatVector.zero(F), c1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i);
            FloatVector x1 = FloatVector.fromArray(F, x, xOff + i + L);
            a0 = FloatVector.fromArray(F, w, wOff + i).fma(x0, a0);
            a1 = FloatVector.fromArray(F, w, wOff + i + L).fma(x1, a1);
            c0 = FloatVector.fromArray(F, w, wOff + n + i).fma(x0, c0);
            c1 = FloatVector.fromArray(F, w, wOff + n + i + L).fma(x1, c1);
        }
        for (; i <= n - L; i += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, w, wOff + i).fma(x0, a0);
            c0 = FloatVector.fromArray(F, w, wOff + n + i).fma(x0, c0);
        }
        float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
        float t = c0.add(c1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += w[wOff + i] * x[xOff + i];
            t += w[wOff + n + i] * x[xOff + i];
        }
        out[o] = s;
        out[o + 1] = t;
    }

    @Override
    public void close() {
        pool.close();
    }
}
