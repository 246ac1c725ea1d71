package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.StepChecks;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.ModelInfo;
import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.backend.GgmlRoundingBackend;
import io.gemmaserving.runtime.engine.tensor.GgmlActivations;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * The Gemma 1/2/3 forward pass, one code path configured by {@link GemmaConfig}.
 *
 * <p>A call to {@link #forward} concatenates the tokens of all steps into one activation matrix
 * {@code x [T x hidden]} (T = all tokens of all steps), runs every projection as one {@link Backend#matmul} over
 * the T rows (prefill is matrix-matrix; batched decode shares one read of the weights), and runs attention per
 * sequence against its own {@link GemmaKvCache}, in parallel over (sequence, head).
 *
 * <p>Per block (Gemma 2/3; Gemma 1 lacks the two post norms and the QK norm):
 * <pre>
 *   h = x + postAttnNorm(o(attention(rope(qkNorm(q(n))), rope(qkNorm(k(n))), v(n))))   with n = attnNorm(x)
 *   x = h + postFfwNorm(down(gelu_tanh(gate(m)) * up(m)))                              with m = ffnNorm(h)
 * </pre>
 * then logits = softcap(outputNorm(x) . token_embd^T).
 */
public final class GemmaModel implements Engine {

    private final GemmaConfig cfg;
    private final GemmaWeights w;
    private final GemmaTokenizer tokenizer;
    private final Backend backend;
    private final ModelInfo info;
    private final AutoCloseable resource;
    private final Numerics numerics;
    private final int vocab;
    private final OpTimes times = new OpTimes();
    private final Attention attention;
    private final KvCacheType kvCacheType;

    // Scratch, grown to the largest token count seen (never allocated per token).
    private int capT;
    private float[] x;      // [T x hidden] residual stream
    private float[] xb;     // [T x hidden] normed input of a projection
    private float[] q;      // [T x heads*headDim]
    private float[] k;      // [T x kvHeads*headDim]
    private float[] v;      // [T x kvHeads*headDim]
    private float[] att;    // [T x heads*headDim] attention output
    private float[] proj;   // [T x hidden] output of o / down
    private float[] gate;   // [T x ffn]
    private float[] up;     // [T x ffn]
    private float[] ropeCos; // [T x headDim/2] for the local base, then for the global base
    private float[] ropeSin;
    private int[] rowPos;   // position of each row in its sequence
    private final float[] invFreqLocal;
    private final float[] invFreqGlobal;

    /**
     * @param backend  runs the matrix products, attention's kernels, and every parallel loop on its threads
     * @param resource closed with the model (e.g. the memory-mapped file), may be null
     */
    public GemmaModel(String name, GemmaConfig cfg, GemmaWeights weights, GemmaTokenizer tokenizer, Backend backend,
                      AutoCloseable resource) {
        this(name, cfg, weights, tokenizer, backend, resource, Numerics.F32);
    }

    /** @param numerics {@link Numerics#GGML} wraps the backend in a {@link GgmlRoundingBackend} */
    public GemmaModel(String name, GemmaConfig cfg, GemmaWeights weights, GemmaTokenizer tokenizer, Backend backend,
                      AutoCloseable resource, Numerics numerics) {
        this(name, cfg, weights, tokenizer, backend, resource, numerics, KvCacheType.F16);
    }

    /** @param kvCacheType how {@link #newKvCache} stores keys and values */
    public GemmaModel(String name, GemmaConfig cfg, GemmaWeights weights, GemmaTokenizer tokenizer, Backend backend,
                      AutoCloseable resource, Numerics numerics, KvCacheType kvCacheType) {
        this.kvCacheType = kvCacheType;
        this.cfg = cfg;
        this.w = weights;
        this.tokenizer = tokenizer;
        this.numerics = numerics;
        this.backend = numerics == Numerics.GGML ? new GgmlRoundingBackend(backend) : backend;
        this.resource = resource;
        this.attention = new Attention(cfg, this.backend, numerics == Numerics.GGML);
        this.vocab = Math.toIntExact(weights.tokenEmbd().rows());
        this.info = new ModelInfo(name, cfg.architecture(), cfg.contextLength(), vocab, cfg.kvBytesPerToken(kvCacheType), weights.bytes());
        int half = cfg.headDim() / 2;
        invFreqLocal = new float[half];
        invFreqGlobal = new float[half];
        for (int i = 0; i < half; i++) {
            // As HF computes it: 1 / base^(2i/d) in float32; linear scaling divides the frequency by the factor.
            invFreqLocal[i] = (float) (1.0 / Math.pow(cfg.ropeBaseLocal(), (2.0 * i) / cfg.headDim()));
            invFreqGlobal[i] = (float) (1.0 / Math.pow(cfg.ropeBaseGlobal(), (2.0 * i) / cfg.headDim()))
                    / cfg.ropeScaleGlobal();
        }
    }

    public GemmaConfig config() {
        return cfg;
    }

    public Backend backend() {
        return backend;
    }

    @Override
    public String description() {
        return "cpu (" + backend.name() + ", " + backend.parallelism() + (backend.parallelism() == 1 ? " thread" : " threads")
                + (numerics == Numerics.F32 ? "" : ", numerics " + numerics) + ")";
    }

    public Numerics numerics() {
        return numerics;
    }

    public KvCacheType kvCacheType() {
        return kvCacheType;
    }

    /**
     * Bytes one decode step at {@code position} reads from memory: every block matrix and the output head in the
     * layout its kernel streams ({@link WeightTensor#streamedBytes}), plus the keys and values attention reads
     * (local layers at most their window). The embedding lookup's single row and the norms are left out.
     */
    public long bytesReadPerDecodeToken(int position) {
        long b = w.tokenEmbd().streamedBytes();
        for (GemmaWeights.Layer l : w.layers()) {
            for (WeightTensor t : new WeightTensor[] {l.q(), l.k(), l.v(), l.o(), l.gate(), l.up(), l.down()}) {
                b += t.streamedBytes();
            }
        }
        return b + kvBytesReadPerDecodeToken(position);
    }

    /** The keys and values a decode step at {@code position} reads (local layers at most their window). */
    public long kvBytesReadPerDecodeToken(int position) {
        long perPosition = 2L * cfg.kvHeads() * cfg.headDim() * kvCacheType.bytesPerValue();
        long b = 0;
        for (int l = 0; l < cfg.layers(); l++) {
            int seen = cfg.isLocal(l) ? Math.min(position + 1, cfg.slidingWindow()) : position + 1;
            b += seen * perPosition;
        }
        return b;
    }

    /** Cumulative time per kind of operation since the last {@link OpTimes#reset()}. */
    public OpTimes opTimes() {
        return times;
    }

    @Override
    public ModelInfo info() {
        return info;
    }

    @Override
    public GemmaTokenizer tokenizer() {
        if (tokenizer == null) {
            throw new IllegalStateException("model " + info.name() + " was loaded without a tokenizer");
        }
        return tokenizer;
    }

    @Override
    public GemmaKvCache newKvCache(int maxTokens) {
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("KV cache size must be positive, got " + maxTokens);
        }
        return new GemmaKvCache(this, cfg, maxTokens, kvCacheType);
    }

    // ---------------------------------------------------------------------------------------------------------

    @Override
    public float[][] step(List<Step> steps) {
        int n = steps.size();
        GemmaKvCache[] caches = StepChecks.caches(steps, GemmaKvCache.class, c -> c.owner == this, vocab,
                GemmaKvCache[]::new);
        int[] rowStart = new int[n + 1];
        for (int s = 0; s < n; s++) {
            rowStart[s + 1] = rowStart[s] + steps.get(s).tokens().length;
        }
        for (int s = 0; s < n; s++) {
            caches[s].truncate(steps.get(s).position());
        }
        int T = rowStart[n];
        ensureScratch(T);
        long t0 = System.nanoTime();

        // Embeddings, scaled by sqrt(hidden); positions; RoPE tables for this step's rows.
        int hidden = cfg.hidden();
        for (int s = 0; s < n; s++) {
            int[] toks = steps.get(s).tokens();
            caches[s].ensure(caches[s].length() + toks.length);
            for (int t = 0; t < toks.length; t++) {
                int r = rowStart[s] + t;
                rowPos[r] = caches[s].length() + t;
                w.tokenEmbd().dequantizeRow(toks[t], x, r * hidden);
                for (int i = 0; i < hidden; i++) {
                    x[r * hidden + i] *= cfg.embedScale();
                }
            }
        }
        fillRope(T);
        times.other += System.nanoTime() - t0;

        for (int l = 0; l < cfg.layers(); l++) {
            layer(l, T, n, rowStart, caches);
        }

        // Logits: the last row of each LAST step, every row of each ALL step.
        long t1 = System.nanoTime();
        int nl = 0;
        for (int s = 0; s < n; s++) {
            nl += switch (steps.get(s).logits()) {
                case NONE -> 0;
                case LAST -> 1;
                case ALL -> rowStart[s + 1] - rowStart[s];
            };
        }
        float[][] result = new float[n][];
        if (nl > 0) {
            float[] rows = new float[nl * hidden];
            int j = 0;
            for (int s = 0; s < n; s++) {
                int first = switch (steps.get(s).logits()) {
                    case NONE -> rowStart[s + 1];
                    case LAST -> rowStart[s + 1] - 1;
                    case ALL -> rowStart[s];
                };
                for (int r = first; r < rowStart[s + 1]; r++) {
                    rmsNorm(x, r * hidden, rows, j++ * hidden, w.outputNorm(), hidden);
                }
            }
            float[] logits = new float[nl * vocab];
            times.other += System.nanoTime() - t1;
            long h0 = System.nanoTime();
            matmul(w.tokenEmbd(), rows, logits, nl);
            long t2 = System.nanoTime();
            times.outputHead += t2 - h0;
            if (cfg.finalSoftCap() > 0) {
                softCap(logits, cfg.finalSoftCap());
            }
            j = 0;
            for (int s = 0; s < n; s++) {
                int count = switch (steps.get(s).logits()) {
                    case NONE -> 0;
                    case LAST -> 1;
                    case ALL -> rowStart[s + 1] - rowStart[s];
                };
                if (count > 0) {
                    result[s] = java.util.Arrays.copyOfRange(logits, j * vocab, (j + count) * vocab);
                    j += count;
                }
            }
            times.other += System.nanoTime() - t2;
        }
        for (int s = 0; s < n; s++) {
            caches[s].length += steps.get(s).tokens().length;
        }
        return result;
    }

    private void layer(int l, int T, int nSeq, int[] rowStart, GemmaKvCache[] caches) {
        GemmaWeights.Layer L = w.layers()[l];
        int hidden = cfg.hidden();
        int hd = cfg.headDim();
        int qDim = cfg.heads() * hd;
        int kvDim = cfg.kvHeads() * hd;

        // --- attention ---
        long t0 = System.nanoTime();
        parallelRows(T, r -> rmsNorm(x, r * hidden, xb, r * hidden, L.attnNorm(), hidden));
        times.other += System.nanoTime() - t0;
        matmul(L.q(), xb, q, T);
        matmul(L.k(), xb, k, T);
        matmul(L.v(), xb, v, T);

        t0 = System.nanoTime();
        boolean local = cfg.isLocal(l);
        float qScale = (float) (1.0 / Math.sqrt(cfg.queryPreAttnScalar()));
        parallelRows(T, r -> {
            for (int h = 0; h < cfg.heads(); h++) {
                int off = r * qDim + h * hd;
                if (L.qNorm() != null) {
                    rmsNorm(q, off, q, off, L.qNorm(), hd);
                }
                rope(q, off, r, local);
                for (int i = 0; i < hd; i++) {
                    q[off + i] *= qScale;
                }
                if (numerics == Numerics.GGML) { // llama.cpp's flash attention converts the query to fp16
                    GgmlActivations.toF16(q, off, q, off, hd);
                }
            }
            for (int h = 0; h < cfg.kvHeads(); h++) {
                int off = r * kvDim + h * hd;
                if (L.kNorm() != null) {
                    rmsNorm(k, off, k, off, L.kNorm(), hd);
                }
                rope(k, off, r, local);
                // An f16 cache: the step's own keys and values are read at the precision the cache keeps them in,
                // so a position attends alike whether it came in this step or an earlier one (chunked prefill,
                // rewinds and speculative drafts give the same logits as one step). llama.cpp's cache is fp16 too.
                if (kvCacheType == KvCacheType.F16 || numerics == Numerics.GGML) {
                    GgmlActivations.toF16(k, off, k, off, hd);
                    GgmlActivations.toF16(v, off, v, off, hd);
                }
            }
        });
        times.other += System.nanoTime() - t0;

        t0 = System.nanoTime();
        attention.forward(l, rowStart, caches, q, k, v, att);
        times.attention += System.nanoTime() - t0;

        matmul(L.o(), att, proj, T);
        t0 = System.nanoTime();
        parallelRows(T, r -> {
            if (L.postAttnNorm() != null) {
                rmsNorm(proj, r * hidden, proj, r * hidden, L.postAttnNorm(), hidden);
            }
            for (int i = r * hidden, e = i + hidden; i < e; i++) {
                x[i] += proj[i];
            }
            rmsNorm(x, r * hidden, xb, r * hidden, L.ffnNorm(), hidden);
        });
        times.other += System.nanoTime() - t0;

        // --- feed-forward (GeGLU) ---
        matmul(L.gate(), xb, gate, T);
        matmul(L.up(), xb, up, T);
        t0 = System.nanoTime();
        int ffn = cfg.ffn();
        parallelRows(T, r -> {
            if (numerics == Numerics.GGML) {
                for (int i = r * ffn, e = i + ffn; i < e; i++) {
                    gate[i] = GgmlGelu.apply(gate[i]) * up[i];
                }
            } else {
                backend.geglu(gate, up, r * ffn, ffn);
            }
        });
        times.other += System.nanoTime() - t0;
        matmul(L.down(), gate, proj, T);
        t0 = System.nanoTime();
        parallelRows(T, r -> {
            if (L.postFfwNorm() != null) {
                rmsNorm(proj, r * hidden, proj, r * hidden, L.postFfwNorm(), hidden);
            }
            for (int i = r * hidden, e = i + hidden; i < e; i++) {
                x[i] += proj[i];
            }
        });
        times.other += System.nanoTime() - t0;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Kernels that are not matrix products.

    private void matmul(WeightTensor wt, float[] in, float[] out, int batch) {
        long t0 = System.nanoTime();
        backend.matmul(wt, in, out, batch);
        times.matmul += System.nanoTime() - t0;
    }

    /** out[o..o+n) = x[i..i+n) / rms(x[i..i+n)) * weight (weight already holds the +1 where HF needs it). */
    private void rmsNorm(float[] in, int i, float[] out, int o, float[] weight, int n) {
        rmsNorm(in, i, out, o, weight, n, cfg.rmsEps(), numerics == Numerics.GGML);
    }

    /** @param ggml the scale as ggml computes it: mean of squares rounded to float, then {@code 1.0f / sqrtf(mean + eps)} */
    static void rmsNorm(float[] in, int i, float[] out, int o, float[] weight, int n, float eps, boolean ggml) {
        double ss = 0;
        for (int j = 0; j < n; j++) {
            float a = in[i + j];
            ss += a * a;
        }
        float scale = ggml ? 1.0f / (float) Math.sqrt((float) (ss / n) + eps) : (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int j = 0; j < n; j++) {
            out[o + j] = in[i + j] * scale * weight[j];
        }
    }

    /** NeoX (half-split) rotation of one head at row r: pairs (i, i + d/2). */
    private void rope(float[] a, int off, int r, boolean local) {
        int half = cfg.headDim() / 2;
        int base = (local ? 0 : capT * half) + r * half;
        for (int i = 0; i < half; i++) {
            float c = ropeCos[base + i];
            float s = ropeSin[base + i];
            float x0 = a[off + i];
            float x1 = a[off + half + i];
            a[off + i] = x0 * c - x1 * s;
            a[off + half + i] = x0 * s + x1 * c;
        }
    }

    private void fillRope(int T) {
        int half = cfg.headDim() / 2;
        // ggml: theta_i = pos * theta_scale^i by repeated float multiplication, theta_scale = powf(base, -2/d)
        float scaleLocal = (float) Math.pow(cfg.ropeBaseLocal(), -2.0f / cfg.headDim());
        float scaleGlobal = (float) Math.pow(cfg.ropeBaseGlobal(), -2.0f / cfg.headDim());
        for (int r = 0; r < T; r++) {
            float pos = rowPos[r];
            float tl = pos, tg = pos;
            for (int i = 0; i < half; i++) {
                float al = pos * invFreqLocal[i];  // float32 product, as HF
                float ag = pos * invFreqGlobal[i];
                if (numerics == Numerics.GGML) {
                    al = tl;
                    ag = tg / cfg.ropeScaleGlobal();
                    tl *= scaleLocal;
                    tg *= scaleGlobal;
                }
                ropeCos[r * half + i] = (float) Math.cos(al);
                ropeSin[r * half + i] = (float) Math.sin(al);
                ropeCos[capT * half + r * half + i] = (float) Math.cos(ag);
                ropeSin[capT * half + r * half + i] = (float) Math.sin(ag);
            }
        }
    }

    /**
     * ggml's GELU ({@code ggml_vec_geglu_f32} with GGML_GELU_FP16, its default): the tanh approximation evaluated
     * in float at every fp16 value once, looked up by the input rounded to fp16; identity above 10, zero below -10.
     */
    static final class GgmlGelu {
        private static final float[] TABLE = new float[1 << 16];

        static {
            for (int h = 0; h < TABLE.length; h++) {
                float x = Float.float16ToFloat((short) h);
                float y = 0.5f * x * (1.0f + (float) Math.tanh(0.7978845608028654f * x * (1.0f + 0.044715f * x * x)));
                TABLE[h] = Float.float16ToFloat(Float.floatToFloat16(y)); // the table holds fp16
            }
        }

        static float apply(float x) {
            if (x <= -10f) {
                return 0f;
            }
            if (x >= 10f) {
                return x;
            }
            return TABLE[Float.floatToFloat16(x) & 0xFFFF];
        }
    }

    private static void softCap(float[] a, float cap) {
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (cap * Math.tanh(a[i] / cap));
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    /** Row-wise element work: parallel only when there are enough rows to pay for the hand-off. */
    private void parallelRows(int T, IntConsumer body) {
        if (T < 8) {
            for (int r = 0; r < T; r++) {
                body.accept(r);
            }
        } else {
            backend.parallelFor(T, body);
        }
    }

    private void ensureScratch(int T) {
        if (T <= capT) {
            return;
        }
        int n = Math.max(T, capT == 0 ? 1 : Math.min(2 * capT, Math.max(T, 512)));
        capT = n;
        int qDim = cfg.heads() * cfg.headDim();
        int kvDim = cfg.kvHeads() * cfg.headDim();
        x = new float[n * cfg.hidden()];
        xb = new float[n * cfg.hidden()];
        proj = new float[n * cfg.hidden()];
        q = new float[n * qDim];
        att = new float[n * qDim];
        k = new float[n * kvDim];
        v = new float[n * kvDim];
        gate = new float[n * cfg.ffn()];
        up = new float[n * cfg.ffn()];
        ropeCos = new float[2 * n * cfg.headDim() / 2];
        ropeSin = new float[2 * n * cfg.headDim() / 2];
        rowPos = new int[n];
    }

    @Override
    public void close() {
        try {
            backend.close();
        } finally {
            if (resource != null) {
                try {
                    resource.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing " + info.name() + ": " + e.getMessage(), e);
                }
            }
        }
    }

    /** Time spent per kind of operation (nanoseconds), for the bench's breakdown. Not thread-safe. */
    public static final class OpTimes {
        public long matmul;
        /** The part of {@link #matmul} spent in the output head (logits = hidden . token_embd^T). */
        public long outputHead;
        public long attention;
        public long other;

        public OpTimes copy() {
            OpTimes c = new OpTimes();
            c.matmul = matmul;
            c.outputHead = outputHead;
            c.attention = attention;
            c.other = other;
            return c;
        }

        public void reset() {
            matmul = 0;
            outputHead = 0;
            attention = 0;
            other = 0;
        }
    }
}
