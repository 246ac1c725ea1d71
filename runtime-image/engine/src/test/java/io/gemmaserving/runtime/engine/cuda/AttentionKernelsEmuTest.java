package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.backend.ScalarBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.floats;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.ints;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.nans;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * attention.cu on the CUDA emulation: {@code kv_store} writes each token's keys and values at slot
 * {@code pos % cap} of its sequence's cache (exactly), and {@code attention} agrees with the model's attention
 * ({@code GemmaModel.attention}: scores by the backend's dot, Gemma 2's soft-cap, causal and sliding-window masks,
 * softmax, the weighted sum by the backend's axpy) for a batch mixing sequences, prefill chunks and decode steps,
 * grouped-query heads, global caches and sliding-window rings, each sequence's cache found through the per-pass
 * tables of addresses and sizes. Launched through the product's {@link Kernels}, for both element types of the
 * cache: f32, and IEEE halves (the default; {@code kv_store_f16} rounds to nearest even, {@code attention_f16} widens
 * exactly), where the f16 kernels must give exactly the f32 kernels' bits on the widened values, and a prompt
 * attended in chunks the bits of one pass.
 */
@Tag("unit")
class AttentionKernelsEmuTest {

    static final List<String> KERNELS = List.of("kv_store", "kv_store_f16", "attention", "attention_f16");
    static final double U = 0x1p-24;
    private static final Backend REF = new ScalarBackend();

    private CudaEmulator emu;

    @BeforeEach
    void emulator() {
        emu = CudaEmulator.get();
        assumeTrue(emu != null, "CUDA emulation unavailable: " + CudaEmulator.unavailable());
    }

    /**
     * Each token's keys and values land at slot {@code pos % cap} of its own sequence's cache, nothing else moves;
     * as halves, rounded exactly as {@link Float#floatToFloat16} (IEEE nearest even).
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(KvCacheType.class)
    void kvStoreWritesSlotPosModCapOfItsSequence(KvCacheType kv) {
        int width = 4 * 128; // wider than the 256-thread block: the stride loop runs twice
        int[] caps = {5, 8, 3};
        int[] seq = {2, 0, 2, 1, 0};
        int[] pos = {7, 0, 9, 4, 12}; // slots 1, 0, 0, 4, 2
        Random rnd = new Random(21);
        float[] k = randoms(rnd, seq.length * width, 1), v = randoms(rnd, seq.length * width, 1);
        float[][] kc = new float[3][], vc = new float[3][], wantK = new float[3][], wantV = new float[3][];
        for (int s = 0; s < 3; s++) {
            kc[s] = stored(kv, randoms(rnd, caps[s] * width, 1));
            vc[s] = stored(kv, randoms(rnd, caps[s] * width, 1));
            wantK[s] = kc[s].clone();
            wantV[s] = vc[s].clone();
        }
        for (int t = 0; t < seq.length; t++) {
            System.arraycopy(stored(kv, k), t * width, wantK[seq[t]], pos[t] % caps[seq[t]] * width, width);
            System.arraycopy(stored(kv, v), t * width, wantV[seq[t]], pos[t] % caps[seq[t]] * width, width);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment[] kd = new MemorySegment[3], vd = new MemorySegment[3];
            for (int s = 0; s < 3; s++) {
                kd[s] = cache(a, kv, kc[s]);
                vd[s] = cache(a, kv, vc[s]);
            }
            emu.kernels().kvStore(null, kv, floats(a, k).address(), floats(a, v).address(), table(a, kd), table(a, vd),
                    ints(a, caps).address(), ints(a, seq).address(), ints(a, pos).address(), seq.length, width);
            for (int s = 0; s < 3; s++) {
                assertArrayEquals(wantK[s], read(kv, kd[s], kc[s].length), kv + " keys of sequence " + s);
                assertArrayEquals(wantV[s], read(kv, vd[s], vc[s].length), kv + " values of sequence " + s);
            }
        }
    }

    /** {@code x} as a cache of {@code kv} holds it: as is, or each value rounded to a half and widened back. */
    static float[] stored(KvCacheType kv, float[] x) {
        if (kv == KvCacheType.F32) {
            return x.clone();
        }
        float[] r = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            r[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
        }
        return r;
    }

    /** Device memory holding {@code x} (values a cache of {@code kv} can hold exactly) as f32 or half bits. */
    static MemorySegment cache(Arena a, KvCacheType kv, float[] x) {
        if (kv == KvCacheType.F32) {
            return floats(a, x);
        }
        MemorySegment m = a.allocate(2L * x.length, 256);
        for (int i = 0; i < x.length; i++) {
            short h = Float.floatToFloat16(x[i]);
            if (Float.float16ToFloat(h) != x[i]) {
                throw new IllegalArgumentException(x[i] + " is not a half");
            }
            m.setAtIndex(ValueLayout.JAVA_SHORT, i, h);
        }
        return m;
    }

    static float[] read(KvCacheType kv, MemorySegment m, int n) {
        if (kv == KvCacheType.F32) {
            return toFloats(m, n);
        }
        float[] r = new float[n];
        for (int i = 0; i < n; i++) {
            r[i] = Float.float16ToFloat(m.getAtIndex(ValueLayout.JAVA_SHORT, i));
        }
        return r;
    }

    /** A per-pass table of cache addresses, as the step layout holds them (i64 device pointers). */
    private static long table(Arena a, MemorySegment[] caches) {
        MemorySegment t = a.allocate(8L * caches.length, 256);
        for (int i = 0; i < caches.length; i++) {
            t.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, caches[i].address());
        }
        return t.address();
    }

    /**
     * The batch: sequence 0 prefills positions 0-4 (a token sees fewer positions than the 4 warps for the first
     * three), sequence 1 decodes at {@code last}, sequence 2 prefills a chunk ending at {@code last - 1}. Each
     * sequence's cache (sequence 2's 3 slots larger) holds, at slot {@code p % cap}, the keys and values of its
     * {@code cap} latest positions, as the engine's cache does after storing the step.
     *
     * <p>Tolerance, per output element d of token t, head h: the scores differ by at most
     * {@code ds = (2 head_dim + 4) u scale sum_i |q_i k_i| + 6u |s|} (dot products of the same terms in different
     * orders; the scale, and soft-cap's at most 5u relative, which tanh does not amplify); a softmax weight then
     * moves by at most {@code 2 ds} relative, and the exps, the sums (online in the kernel, two-pass in the
     * reference) and the weighted sum add {@code (2 n + 16) u} for n visible positions, all on a convex combination
     * of values bounded by {@code V = max_p |v_pd|}: {@code tol = V (2 max ds + (2 n + 16) u)}. With f16 caches the
     * keys and values are halves and the reference runs on them widened: the kernel's only other rounding is the
     * store's, which the data already had (widening is exact, QuantKernelsEmuTest checks all 65536 halves), so the
     * same tolerance holds; and the f16 kernel must then give exactly the f32 kernel's bits on those values.
     */
    @ParameterizedTest(name = "heads {0}/{1}, head_dim {2}, window {3}, cap {4}, softcap {5}, {6}")
    @CsvSource({
        "4, 2, 64, 0, 48, 0, F32",      // global layer, grouped-query
        "4, 4, 64, 8, 12, 0, F32",      // sliding-window ring (cap >= window + chunk - 1)
        "2, 1, 256, 0, 40, 50, F32",    // Gemma 2: soft-capped scores, head_dim 256 (8 dims per lane)
        "8, 2, 128, 6, 9, 50, F32",     // window and soft-cap together
        "4, 2, 64, 0, 48, 0, F16",
        "4, 4, 64, 8, 12, 0, F16",
        "2, 1, 256, 0, 40, 50, F16",
        "8, 2, 128, 6, 9, 50, F16",
    })
    void attentionMatchesTheModelsAttention(int heads, int kvHeads, int headDim, int window, int cap, float softcap,
                                            KvCacheType kv) {
        Random rnd = new Random(heads * 1000 + headDim + window);
        int last = window > 0 ? 2 * cap + 3 : cap - 2; // a global cache holds every position
        int chunk = window > 0 ? window / 2 : 3;
        int[][] steps = {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, last}};
        int n = steps.length + chunk;
        int[] seq = new int[n], pos = new int[n];
        for (int t = 0; t < n; t++) {
            seq[t] = t < steps.length ? steps[t][0] : 2;
            pos[t] = t < steps.length ? steps[t][1] : last - chunk + (t - steps.length);
        }
        int seqs = 3, width = kvHeads * headDim;
        int[] latest = {4, last, last - 1};
        int[] caps = {cap, cap, cap + 3}; // each sequence's cache has its own size
        // keys and values of every position of every sequence; each cache keeps its cap latest
        float qScale = softcap > 0 ? 40f : 1f; // large scores where the soft-cap must bite
        float[][] kp = new float[seqs * (last + 1)][], vp = new float[seqs * (last + 1)][];
        float[][] kc = new float[seqs][], vc = new float[seqs][];
        for (int s = 0; s < seqs; s++) {
            kc[s] = stored(kv, randoms(rnd, caps[s] * width, 1));
            vc[s] = stored(kv, randoms(rnd, caps[s] * width, 1));
            for (int p = Math.max(0, latest[s] - caps[s] + 1); p <= latest[s]; p++) {
                kp[s * (last + 1) + p] = stored(kv, randoms(rnd, width, 1));
                vp[s * (last + 1) + p] = stored(kv, randoms(rnd, width, 1));
                System.arraycopy(kp[s * (last + 1) + p], 0, kc[s], p % caps[s] * width, width);
                System.arraycopy(vp[s * (last + 1) + p], 0, vc[s], p % caps[s] * width, width);
            }
        }
        float[] q = randoms(rnd, n * heads * headDim, qScale);
        float scale = (float) (1 / Math.sqrt(headDim));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = nans(a, n * heads * headDim);
            MemorySegment[] kd = new MemorySegment[seqs], vd = new MemorySegment[seqs];
            for (int s = 0; s < seqs; s++) {
                kd[s] = cache(a, kv, kc[s]);
                vd[s] = cache(a, kv, vc[s]);
            }
            emu.kernels().attention(null, kv, floats(a, q).address(), table(a, kd), table(a, vd), ints(a, caps).address(),
                    out.address(), ints(a, seq).address(), ints(a, pos).address(), n, heads, kvHeads, headDim, window,
                    scale, softcap);
            float[] got = toFloats(out, n * heads * headDim);
            if (kv == KvCacheType.F16) {
                MemorySegment out32 = nans(a, n * heads * headDim);
                for (int s = 0; s < seqs; s++) {
                    kd[s] = floats(a, kc[s]);
                    vd[s] = floats(a, vc[s]);
                }
                emu.kernels().attention(null, KvCacheType.F32, floats(a, q).address(), table(a, kd), table(a, vd),
                        ints(a, caps).address(), out32.address(), ints(a, seq).address(), ints(a, pos).address(), n,
                        heads, kvHeads, headDim, window, scale, softcap);
                assertArrayEquals(toFloats(out32, n * heads * headDim), got,
                        "attention_f16 gives attention's bits on the same values widened");
            }
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < heads; h++) {
                    int kvh = h / (heads / kvHeads), qOff = (t * heads + h) * headDim;
                    int lo = window > 0 ? Math.max(0, pos[t] - window + 1) : 0;
                    int np = pos[t] - lo + 1;
                    float[] sc = new float[np];
                    double maxDs = 0;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = lo; j <= pos[t]; j++) { // GemmaModel.attention's loop, with the scale applied here
                        float[] kr = kp[seq[t] * (last + 1) + j];
                        float dot = REF.dot(q, qOff, kr, kvh * headDim, headDim) * scale;
                        double absDot = 0;
                        for (int i = 0; i < headDim; i++) {
                            absDot += Math.abs((double) q[qOff + i] * kr[kvh * headDim + i]);
                        }
                        if (softcap > 0) {
                            dot = (float) (softcap * Math.tanh(dot / softcap));
                        }
                        maxDs = Math.max(maxDs, (2 * headDim + 4) * U * scale * absDot + 6 * U * Math.abs(dot));
                        sc[j - lo] = dot;
                        max = Math.max(max, dot);
                    }
                    float sum = 0f;
                    for (int j = 0; j < np; j++) {
                        sc[j] = (float) Math.exp(sc[j] - max);
                        sum += sc[j];
                    }
                    float inv = 1f / sum;
                    float[] want = new float[headDim];
                    float[] bound = new float[headDim];
                    for (int j = lo; j <= pos[t]; j++) {
                        float[] vr = vp[seq[t] * (last + 1) + j];
                        REF.axpy(sc[j - lo] * inv, vr, kvh * headDim, want, 0, headDim);
                        for (int d = 0; d < headDim; d++) {
                            bound[d] = Math.max(bound[d], Math.abs(vr[kvh * headDim + d]));
                        }
                    }
                    for (int d = 0; d < headDim; d++) {
                        double tol = bound[d] * (2 * maxDs + (2 * np + 16) * U);
                        assertEquals(want[d], got[qOff + d], tol, "token " + t + " (seq " + seq[t] + " pos " + pos[t]
                                + ") head " + h + " dim " + d);
                    }
                }
            }
        }
    }

    /**
     * The invariant behind a cached prefix: with an f16 cache, a prompt stored and attended in one pass, or in two
     * chunks (the second reading the first from the cache), or one token per pass, gives the same bits for every
     * token, on a global cache and on a sliding-window ring that wraps (there the largest pass is the engine's chunk
     * limit, cap - window + 1 = 12 tokens). The step's own keys are rounded on the way into the cache and read back
     * like any other position, so no position is seen at two precisions.
     */
    @ParameterizedTest(name = "window {0}, cap {1}")
    @CsvSource({"0, 40", "6, 17"})
    void chunksGiveTheBitsOfOnePass(int window, int cap) {
        int heads = 4, kvHeads = 2, headDim = 64, n = 30, width = kvHeads * headDim;
        Random rnd = new Random(77 + window);
        float[] q = randoms(rnd, n * heads * headDim, 1), k = randoms(rnd, n * width, 1), v = randoms(rnd, n * width, 1);
        float scale = 0.125f;
        int[] largest = window == 0 ? new int[] {0, n} : new int[] {0, 12, 24, n};
        float[] one = pass(largest, q, k, v, n, heads, kvHeads, headDim, window, cap, scale);
        float[] two = pass(new int[] {0, 7, 11, 23, n}, q, k, v, n, heads, kvHeads, headDim, window, cap, scale);
        int[] each = new int[n + 1];
        for (int i = 0; i <= n; i++) {
            each[i] = i;
        }
        float[] perToken = pass(each, q, k, v, n, heads, kvHeads, headDim, window, cap, scale);
        assertArrayEquals(one, two, "other chunks vs the largest passes");
        assertArrayEquals(one, perToken, "one token per pass vs the largest passes");
    }

    /** Tokens [cuts[i], cuts[i+1]) of one sequence per pass: kv_store_f16, then attention_f16; every token's output. */
    private float[] pass(int[] cuts, float[] q, float[] k, float[] v, int n, int heads, int kvHeads, int headDim,
                         int window, int cap, float scale) {
        int width = kvHeads * headDim, qw = heads * headDim;
        float[] out = new float[n * qw];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment kc = cache(a, KvCacheType.F16, new float[cap * width]);
            MemorySegment vc = cache(a, KvCacheType.F16, new float[cap * width]);
            long kt = table(a, new MemorySegment[] {kc}), vt = table(a, new MemorySegment[] {vc});
            long caps = ints(a, cap).address();
            for (int c = 0; c + 1 < cuts.length; c++) {
                int t0 = cuts[c], m = cuts[c + 1] - t0;
                int[] seq = new int[m], pos = new int[m];
                for (int i = 0; i < m; i++) {
                    pos[i] = t0 + i;
                }
                long seqs = ints(a, seq).address(), poss = ints(a, pos).address();
                emu.kernels().kvStore(null, KvCacheType.F16, floats(a, java.util.Arrays.copyOfRange(k, t0 * width,
                        (t0 + m) * width)).address(), floats(a, java.util.Arrays.copyOfRange(v, t0 * width,
                        (t0 + m) * width)).address(), kt, vt, caps, seqs, poss, m, width);
                MemorySegment o = nans(a, m * qw);
                emu.kernels().attention(null, KvCacheType.F16, floats(a, java.util.Arrays.copyOfRange(q, t0 * qw,
                        (t0 + m) * qw)).address(), kt, vt, caps, o.address(), seqs, poss, m, heads, kvHeads, headDim,
                        window, scale, 0f);
                System.arraycopy(toFloats(o, m * qw), 0, out, t0 * qw, m * qw);
            }
        }
        return out;
    }

    private static float[] randoms(Random rnd, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian() * scale;
        }
        return x;
    }
}
