package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.backend.Backend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Causal multi-head attention of one layer over a step's rows, with grouped-query heads, Gemma 2's logit
 * soft-capping and sliding windows on local layers.
 *
 * <p>Shapes: {@code q [T x heads*headDim]}, {@code k, v [T x kvHeads*headDim]}, {@code out [T x heads*headDim]};
 * the rows of sequence {@code s} are {@code rowStart[s] .. rowStart[s+1]}. A token at position p sees positions
 * {@code lo .. p} ({@code lo = p - window + 1} on local layers, else 0): positions before the step come from the
 * sequence's {@link GemmaKvCache}, the step's own from its k/v rows, so the cache is written only after every head
 * has read it ({@link #writeKv}).
 *
 * <p>Two ways through, by the rows a sequence brings to the step. One row (decode): one task per query head, a dot
 * and a weighted add per key. Several rows (prefill, a draft to verify): one task per block of tokens and KV head,
 * with every query head of the group, as flash attention does it: each tile of {@value #TILE_KEYS} keys and values
 * is read (and widened from fp16) once for the block's ~64 queries, the scores and the weighted sum are two small
 * matrix products on the backend, and the softmax runs online (a running max and sum per query, earlier output
 * rescaled). On a 1,500-token prompt the per-key way spent 41-44 % of prefill in attention, the blocked way 11 %.
 * {@link Numerics#GGML} goes key by key for every row, as llama.cpp does.
 */
public final class Attention {

    /** Queries a block aims at (tokens x query heads of one KV head): 4 AVX-512 vectors of lanes. */
    static final int BLOCK_QUERIES = 64;
    /** Keys per tile: 64 keys and 64 values of 256 floats are 128 KB, in L2 with the block's queries and output. */
    static final int TILE_KEYS = 64;
    /** A block's query count is padded to a multiple of this, so the kernels' vectors run full (16 float lanes). */
    static final int QUERY_ALIGN = 16;

    private final GemmaConfig cfg;
    private final Backend backend;
    private final boolean keyByKey;
    private final ThreadLocal<float[]> scores = ThreadLocal.withInitial(() -> new float[256]);
    private final ThreadLocal<Block> blocks = ThreadLocal.withInitial(Block::new);

    /** @param keyByKey every row key by key, as llama.cpp goes ({@link Numerics#GGML}) */
    Attention(GemmaConfig cfg, Backend backend, boolean keyByKey) {
        this.cfg = cfg;
        this.backend = backend;
        this.keyByKey = keyByKey;
    }

    /**
     * One task: query head {@code head} of a one-row sequence (block false), or tokens {@code t0 .. t1} of sequence
     * {@code seq} with every query head of KV head {@code head} (block true). {@code cost} (queries x keys) orders
     * the tasks, costliest first, so that the causal blocks at the end of a long prompt do not run last.
     */
    private record Task(int seq, int head, int t0, int t1, boolean block, long cost) {
    }

    /** The tasks of one layer, as one parallel loop on the backend's threads. */
    private record Tasks(Attention attention, int layer, int[] rowStart, GemmaKvCache[] caches, float[] q, float[] k,
                         float[] v, float[] out, Task[] tasks) implements IntConsumer {
        @Override
        public void accept(int i) {
            Task t = tasks[i];
            if (t.block()) {
                attention.block(layer, t.seq(), t.head(), t.t0(), t.t1(), rowStart, caches, q, k, v, out);
            } else {
                attention.head(layer, t.seq(), t.head(), rowStart, caches, q, k, v, out);
            }
        }
    }

    /** Attention of every query head of every sequence of the step, then the step's keys and values into the caches. */
    void forward(int layer, int[] rowStart, GemmaKvCache[] caches, float[] q, float[] k, float[] v, float[] out) {
        Tasks tasks = new Tasks(this, layer, rowStart, caches, q, k, v, out, plan(layer, rowStart, caches));
        if (tasks.tasks().length == 1) {
            tasks.accept(0);
        } else {
            backend.parallelFor(tasks.tasks().length, tasks);
        }
        for (int s = 0; s < caches.length; s++) {
            writeKv(layer, caches[s], k, v, rowStart[s], rowStart[s + 1] - rowStart[s]);
        }
    }

    private Task[] plan(int l, int[] rowStart, GemmaKvCache[] caches) {
        int group = cfg.heads() / cfg.kvHeads();
        int blockTokens = Math.max(1, BLOCK_QUERIES / group);
        List<Task> tasks = new ArrayList<>();
        for (int s = 0; s < caches.length; s++) {
            int rows = rowStart[s + 1] - rowStart[s];
            int start = caches[s].length();
            if (rows == 1 || keyByKey) {
                long keys = start + 1 - firstKey(l, start);
                for (int h = 0; h < cfg.heads(); h++) {
                    tasks.add(new Task(s, h, 0, 1, false, keys));
                }
                continue;
            }
            for (int t0 = 0; t0 < rows; t0 += blockTokens) {
                int t1 = Math.min(rows, t0 + blockTokens);
                long cost = (long) (t1 - t0) * group * (start + t1 - firstKey(l, start + t0));
                for (int g = 0; g < cfg.kvHeads(); g++) {
                    tasks.add(new Task(s, g, t0, t1, true, cost));
                }
            }
        }
        Task[] a = tasks.toArray(Task[]::new);
        Arrays.sort(a, Comparator.comparingLong(Task::cost).reversed());
        return a;
    }

    /** The first position a query at position {@code p} of layer {@code l} sees. */
    private int firstKey(int l, int p) {
        return cfg.isLocal(l) ? Math.max(0, p - cfg.slidingWindow() + 1) : 0;
    }

    /** A thread's buffers for {@link #block}, grown to the largest block it has run. */
    private static final class Block {
        float[] qT = new float[0];   // [headDim x stride]: query i's element d at d * stride + i
        float[] oT = new float[0];   // [headDim x stride], as qT
        float[] k = new float[0];    // [TILE_KEYS x headDim]
        float[] v = new float[0];    // [TILE_KEYS x headDim]
        float[] s = new float[0];    // [TILE_KEYS x stride]: scores, then probabilities
        float[] max = new float[0];  // [stride] running max of each query's scores
        float[] sum = new float[0];  // [stride] running sum of exp(score - max)
        float[] scale = new float[0]; // [stride] how much a tile shrank each query's earlier sum

        void fit(int stride, int hd) {
            if (qT.length < stride * hd) {
                qT = new float[stride * hd];
                oT = new float[stride * hd];
                s = new float[TILE_KEYS * stride];
                max = new float[stride];
                sum = new float[stride];
                scale = new float[stride];
            }
            if (k.length < TILE_KEYS * hd) {
                k = new float[TILE_KEYS * hd];
                v = new float[TILE_KEYS * hd];
            }
        }
    }

    /**
     * Tokens {@code t0 .. t1} of sequence {@code s}, every query head of KV head {@code g}: query i of the block is
     * token {@code t0 + i / group}, head {@code g * group + i % group}.
     */
    private void block(int l, int s, int g, int t0, int t1, int[] rowStart, GemmaKvCache[] caches, float[] q,
                       float[] k, float[] v, float[] out) {
        GemmaKvCache c = caches[s];
        int hd = cfg.headDim();
        int kvDim = cfg.kvHeads() * hd;
        int qDim = cfg.heads() * hd;
        int group = cfg.heads() / cfg.kvHeads();
        int start = c.length(); // position of the step's first token
        boolean local = cfg.isLocal(l);
        int window = cfg.slidingWindow();
        float cap = cfg.attnSoftCap();
        int row0 = rowStart[s];
        int nq = (t1 - t0) * group;
        int stride = (nq + QUERY_ALIGN - 1) / QUERY_ALIGN * QUERY_ALIGN;
        Block b = blocks.get();
        b.fit(stride, hd);
        float[] qT = b.qT;
        for (int i = 0; i < stride; i++) {
            int off = i < nq ? (row0 + t0 + i / group) * qDim + (g * group + i % group) * hd : -1;
            for (int d = 0; d < hd; d++) {
                qT[d * stride + i] = off < 0 ? 0f : q[off + d]; // padding queries are zero: harmless scores
            }
        }
        Arrays.fill(b.oT, 0, hd * stride, 0f);
        Arrays.fill(b.max, 0, stride, -Float.MAX_VALUE);
        Arrays.fill(b.sum, 0, stride, 0f);
        int pFirst = start + t0;
        int pLast = start + t1 - 1;
        for (int j0 = firstKey(l, pFirst); j0 <= pLast; j0 += TILE_KEYS) {
            int nk = Math.min(TILE_KEYS, pLast - j0 + 1);
            for (int jj = 0; jj < nk; jj++) {
                int j = j0 + jj;
                if (j < start) {
                    int off = c.slot(l, j) * kvDim + g * hd;
                    c.readKey(backend, l, off, b.k, jj * hd, hd);
                    c.readValue(backend, l, off, b.v, jj * hd, hd);
                } else {
                    int off = (row0 + j - start) * kvDim + g * hd;
                    System.arraycopy(k, off, b.k, jj * hd, hd);
                    System.arraycopy(v, off, b.v, jj * hd, hd);
                }
            }
            backend.attentionScores(qT, stride, b.k, nk, hd, b.s);
            // the causal edge (keys after some query) and the window's edge (keys before some query's lo)
            boolean edge = j0 + nk - 1 > pFirst || j0 < firstKey(l, pLast);
            if (edge || cap > 0) {
                for (int jj = 0; jj < nk; jj++) {
                    int j = j0 + jj;
                    for (int i = 0; i < nq; i++) {
                        int p = pFirst + i / group;
                        int idx = jj * stride + i;
                        if (j > p || (local && j <= p - window)) {
                            b.s[idx] = -Float.MAX_VALUE;
                        } else if (cap > 0) {
                            b.s[idx] = (float) (cap * Math.tanh(b.s[idx] / cap));
                        }
                    }
                }
            }
            backend.softmaxTile(b.s, stride, nk, b.max, b.sum, b.scale);
            backend.attentionValues(b.s, stride, b.v, nk, hd, b.scale, b.oT);
        }
        for (int i = 0; i < nq; i++) {
            int off = (row0 + t0 + i / group) * qDim + (g * group + i % group) * hd;
            float inv = 1f / b.sum[i];
            for (int d = 0; d < hd; d++) {
                out[off + d] = b.oT[d * stride + i] * inv;
            }
        }
    }

    /** Query head {@code h} for every token of sequence {@code s}: a dot and a weighted add per key. */
    private void head(int l, int s, int h, int[] rowStart, GemmaKvCache[] caches, float[] q, float[] k, float[] v,
                      float[] out) {
        GemmaKvCache c = caches[s];
        int hd = cfg.headDim();
        int kvDim = cfg.kvHeads() * hd;
        int qDim = cfg.heads() * hd;
        int kvh = h / (cfg.heads() / cfg.kvHeads());
        int start = c.length(); // position of the step's first token
        boolean local = cfg.isLocal(l);
        float cap = cfg.attnSoftCap();
        int rows = rowStart[s + 1] - rowStart[s];
        float[] sc = scores.get();
        if (sc.length < start + rows) {
            sc = new float[Math.max(start + rows, sc.length * 2)];
            scores.set(sc);
        }
        for (int t = 0; t < rows; t++) {
            int r = rowStart[s] + t;
            int p = start + t;
            int lo = local ? Math.max(0, p - cfg.slidingWindow() + 1) : 0;
            int qOff = r * qDim + h * hd;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = lo; j <= p; j++) {
                float dot = j < start
                        ? c.dotKey(backend, l, q, qOff, c.slot(l, j) * kvDim + kvh * hd, hd)
                        : backend.dot(q, qOff, k, (rowStart[s] + j - start) * kvDim + kvh * hd, hd);
                if (cap > 0) {
                    dot = (float) (cap * Math.tanh(dot / cap));
                }
                sc[j - lo] = dot;
                max = Math.max(max, dot);
            }
            float sum = 0f;
            for (int j = 0; j <= p - lo; j++) {
                float e = (float) Math.exp(sc[j] - max);
                sc[j] = e;
                sum += e;
            }
            float inv = 1f / sum;
            int oOff = r * qDim + h * hd;
            for (int i = 0; i < hd; i++) {
                out[oOff + i] = 0f;
            }
            for (int j = lo; j <= p; j++) {
                float a = sc[j - lo] * inv;
                if (j < start) {
                    c.addValue(backend, l, a, c.slot(l, j) * kvDim + kvh * hd, out, oOff, hd);
                } else {
                    backend.axpy(a, v, (rowStart[s] + j - start) * kvDim + kvh * hd, out, oOff, hd);
                }
            }
        }
    }

    /** Copies the step's keys and values (rows row0 .. row0+count) into the cache; a ring keeps only its last slots. */
    private void writeKv(int l, GemmaKvCache c, float[] k, float[] v, int row0, int count) {
        int kvDim = cfg.kvHeads() * cfg.headDim();
        int start = c.length();
        int first = c.ringSlots[l] == Integer.MAX_VALUE ? 0 : Math.max(0, count - c.ringSlots[l]);
        for (int t = first; t < count; t++) {
            c.write(l, c.slot(l, start + t), k, (row0 + t) * kvDim, v, (row0 + t) * kvDim);
        }
    }
}
