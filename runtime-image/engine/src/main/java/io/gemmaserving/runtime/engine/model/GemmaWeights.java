package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.util.function.Function;

/**
 * The tensors of a Gemma model, bound by their GGUF names ({@code token_embd.weight}, {@code blk.N.attn_q.weight}, ...).
 * Projections stay {@link WeightTensor}s (memory-mapped, any format); norm weights are small and are copied into
 * float arrays with the {@code +1} already applied, so the forward pass always computes {@code x * w}.
 *
 * @param tokenEmbd  [vocab x hidden], also the output head (tied)
 * @param outputNorm [hidden]
 */
public record GemmaWeights(WeightTensor tokenEmbd, float[] outputNorm, Layer[] layers, long bytes) {

    /**
     * One block. Gemma 1 has only attnNorm and ffnNorm; Gemma 2/3 add the post norms; Gemma 3 adds qNorm/kNorm.
     *
     * @param q [heads*headDim x hidden], k and v [kvHeads*headDim x hidden], o [hidden x heads*headDim]
     * @param gate and up [ffn x hidden], down [hidden x ffn]
     */
    public record Layer(float[] attnNorm, WeightTensor q, WeightTensor k, WeightTensor v, WeightTensor o,
                        float[] qNorm, float[] kNorm, float[] postAttnNorm,
                        float[] ffnNorm, WeightTensor gate, WeightTensor up, WeightTensor down, float[] postFfwNorm) {
    }

    /**
     * Binds the tensors that {@code lookup} returns for GGUF-style names (null when absent), checking every shape
     * against {@code cfg}.
     */
    public static GemmaWeights bind(GemmaConfig cfg, Function<String, WeightTensor> lookup, String source) {
        Binder b = new Binder(cfg, lookup, source);
        WeightTensor embd = b.matrix("token_embd.weight", -1, cfg.hidden());
        float[] outNorm = b.norm("output_norm.weight", cfg.hidden());
        int qDim = cfg.heads() * cfg.headDim();
        int kvDim = cfg.kvHeads() * cfg.headDim();
        Layer[] layers = new Layer[cfg.layers()];
        for (int i = 0; i < cfg.layers(); i++) {
            String p = "blk." + i + ".";
            layers[i] = new Layer(
                    b.norm(p + "attn_norm.weight", cfg.hidden()),
                    b.matrix(p + "attn_q.weight", qDim, cfg.hidden()),
                    b.matrix(p + "attn_k.weight", kvDim, cfg.hidden()),
                    b.matrix(p + "attn_v.weight", kvDim, cfg.hidden()),
                    b.matrix(p + "attn_output.weight", cfg.hidden(), qDim),
                    cfg.qkNorm() ? b.norm(p + "attn_q_norm.weight", cfg.headDim()) : null,
                    cfg.qkNorm() ? b.norm(p + "attn_k_norm.weight", cfg.headDim()) : null,
                    cfg.postNorms() ? b.norm(p + "post_attention_norm.weight", cfg.hidden()) : null,
                    b.norm(p + "ffn_norm.weight", cfg.hidden()),
                    b.matrix(p + "ffn_gate.weight", cfg.ffn(), cfg.hidden()),
                    b.matrix(p + "ffn_up.weight", cfg.ffn(), cfg.hidden()),
                    b.matrix(p + "ffn_down.weight", cfg.hidden(), cfg.ffn()),
                    cfg.postNorms() ? b.norm(p + "post_ffw_norm.weight", cfg.hidden()) : null);
        }
        return new GemmaWeights(embd, outNorm, layers, b.bytes);
    }

    private static final class Binder {
        final GemmaConfig cfg;
        final Function<String, WeightTensor> lookup;
        final String source;
        long bytes;

        Binder(GemmaConfig cfg, Function<String, WeightTensor> lookup, String source) {
            this.cfg = cfg;
            this.lookup = lookup;
            this.source = source;
        }

        WeightTensor get(String name) {
            WeightTensor t = lookup.apply(name);
            if (t == null) {
                throw new IllegalArgumentException(source + ": tensor " + name + " is missing");
            }
            bytes += t.type().bytesFor(t.rows() * t.cols());
            return t;
        }

        /** rows < 0: any row count. */
        WeightTensor matrix(String name, long rows, int cols) {
            WeightTensor t = get(name);
            if ((rows >= 0 && t.rows() != rows) || t.cols() != cols) {
                throw new IllegalArgumentException(source + ": tensor " + name + " has shape [" + t.rows() + " x "
                        + t.cols() + "], expected [" + (rows < 0 ? "*" : rows) + " x " + cols + "] for " + cfg.architecture());
            }
            return t;
        }

        float[] norm(String name, int n) {
            WeightTensor t = get(name);
            if (t.rows() * t.cols() != n) {
                throw new IllegalArgumentException(source + ": norm " + name + " has " + t.rows() * t.cols()
                        + " values, expected " + n);
            }
            float[] w = new float[n];
            t.dequantizeRow(0, w, 0);
            if (cfg.normPlusOne()) {
                for (int i = 0; i < n; i++) {
                    w[i] += 1f;
                }
            }
            return w;
        }
    }
}
