package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.backend.Backend;
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
 */
public final class Attention {

    private final GemmaConfig cfg;
    private final Backend backend;
    private final ThreadLocal<float[]> scores = ThreadLocal.withInitial(() -> new float[256]);

    Attention(GemmaConfig cfg, Backend backend) {
        this.cfg = cfg;
        this.backend = backend;
    }

    /**
     * The (sequence, query head) pairs of one layer, as one parallel loop on the backend's threads: a type of its own
     * so that a timing decorator of the backend can tell attention from the other row-wise work.
     */
    public record Heads(Attention attention, int layer, int[] rowStart, GemmaKvCache[] caches, float[] q, float[] k,
                        float[] v, float[] out) implements IntConsumer {
        @Override
        public void accept(int task) {
            int heads = attention.cfg.heads();
            attention.head(layer, task / heads, task % heads, rowStart, caches, q, k, v, out);
        }

        public int tasks() {
            return caches.length * attention.cfg.heads();
        }
    }

    /** Attention of every query head of every sequence of the step, then the step's keys and values into the caches. */
    void forward(int layer, int[] rowStart, GemmaKvCache[] caches, float[] q, float[] k, float[] v, float[] out) {
        Heads heads = new Heads(this, layer, rowStart, caches, q, k, v, out);
        if (heads.tasks() == 1) {
            heads.accept(0);
        } else {
            backend.parallelFor(heads.tasks(), heads);
        }
        for (int s = 0; s < caches.length; s++) {
            writeKv(layer, caches[s], k, v, rowStart[s], rowStart[s + 1] - rowStart[s]);
        }
    }

    /** Query head {@code h} for every token of sequence {@code s}. */
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
