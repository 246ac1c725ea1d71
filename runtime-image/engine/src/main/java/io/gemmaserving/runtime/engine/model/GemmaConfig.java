package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.KvCacheType;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Everything that differs between Gemma 1, 2 and 3, as data. One forward pass ({@link GemmaModel}) reads these
 * fields; there is no per-generation copy of the model code.
 *
 * @param architecture        the generation, and with it the defaults the checkpoint does not state
 * @param hidden              model width (embedding length)
 * @param layers              number of transformer blocks
 * @param heads               query heads
 * @param kvHeads             key/value heads (grouped-query attention: heads / kvHeads queries share one KV head)
 * @param headDim             width of one head (Gemma's head_dim is not hidden / heads in general)
 * @param ffn                 feed-forward width (GeGLU gate/up rows)
 * @param vocab               vocabulary size (rows of the tied embedding / output head)
 * @param contextLength       trained context length
 * @param rmsEps              RMSNorm epsilon
 * @param ropeBaseGlobal      RoPE base on global (full-attention) layers
 * @param ropeBaseLocal       RoPE base on sliding-window layers
 * @param ropeScaleGlobal     linear RoPE scaling factor on global layers (positions divided by it; 1 = off)
 * @param queryPreAttnScalar  queries are scaled by {@code queryPreAttnScalar^-0.5}
 * @param attnSoftCap         attention logit soft-capping (cap * tanh(x / cap)); 0 = off
 * @param finalSoftCap        final logit soft-capping; 0 = off
 * @param slidingWindow       window of local layers in positions (a query at p sees p - window + 1 .. p); 0 = none
 * @param localLayers         per layer: true when it is a sliding-window (local) layer
 * @param postNorms           post-attention and post-feed-forward norms (Gemma 2 and 3)
 * @param qkNorm              per-head RMSNorm of queries and keys before RoPE (Gemma 3)
 * @param embedScale          embeddings are multiplied by this (sqrt(hidden), as a float)
 * @param normPlusOne         norm weights are stored as w and applied as (1 + w) (HF); false when baked in (GGUF)
 */
public record GemmaConfig(
        Architecture architecture,
        int hidden, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab, int contextLength,
        float rmsEps,
        float ropeBaseGlobal, float ropeBaseLocal, float ropeScaleGlobal,
        float queryPreAttnScalar,
        float attnSoftCap, float finalSoftCap,
        int slidingWindow, boolean[] localLayers,
        boolean postNorms, boolean qkNorm,
        float embedScale,
        boolean normPlusOne) {

    public GemmaConfig {
        if (hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffn <= 0 || vocab <= 0) {
            throw new IllegalArgumentException("model config has a non-positive dimension: hidden=" + hidden
                    + " layers=" + layers + " heads=" + heads + " kvHeads=" + kvHeads + " headDim=" + headDim
                    + " ffn=" + ffn + " vocab=" + vocab);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("model config: heads (" + heads + ") is not a multiple of kv heads (" + kvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("model config: head_dim " + headDim + " is odd; RoPE needs pairs");
        }
        if (localLayers.length != layers) {
            throw new IllegalArgumentException("model config: " + localLayers.length + " layer types for " + layers + " layers");
        }
    }

    public boolean isLocal(int layer) {
        return slidingWindow > 0 && localLayers[layer];
    }

    public float ropeBase(int layer) {
        return isLocal(layer) ? ropeBaseLocal : ropeBaseGlobal;
    }

    /** Linear RoPE scaling applies to global layers only (HF and llama.cpp agree). */
    public float ropeScale(int layer) {
        return isLocal(layer) ? 1f : ropeScaleGlobal;
    }

    /** KV-cache bytes one position costs over all layers with keys and values stored as {@code type}, local layers counted fully. */
    public long kvBytesPerToken(KvCacheType type) {
        return (long) layers * kvHeads * headDim * 2 * type.bytesPerValue();
    }

    // ---------------------------------------------------------------------------------------------------------
    // From GGUF metadata

    /**
     * Builds the config from GGUF metadata ({@code general.architecture}, then {@code <arch>.*} keys); what the file
     * does not store comes from {@link Architecture}.
     *
     * @param meta    key -> value as the GGUF reader gives them (numbers as any {@link Number}, strings, arrays)
     * @param source  file name for error messages
     * @throws IllegalArgumentException with one line when the file is not a Gemma or misses a key
     */
    public static GemmaConfig fromGguf(Map<String, ?> meta, String source) {
        Object a = meta.get("general.architecture");
        if (a == null) {
            throw new IllegalArgumentException(source + ": no general.architecture in the GGUF metadata");
        }
        Architecture arch = Architecture.fromGguf(a.toString(), source);
        Meta m = new Meta(meta, arch.ggufName() + ".", source);
        int hidden = m.integer("embedding_length");
        int layers = m.integer("block_count");
        int heads = m.integer("attention.head_count");
        int kvHeads = m.integerOr("attention.head_count_kv", heads);
        int headDim = m.integerOr("attention.key_length", hidden / heads);
        int ffn = m.integer("feed_forward_length");
        int context = m.integerOr("context_length", 8192);
        float eps = m.floatOr("attention.layer_norm_rms_epsilon", 1e-6f);
        // Vocabulary: the token list's length (the output head's rows are checked against it when loading).
        int vocab = m.integerOr("vocab_size", -1);
        if (vocab < 0) {
            Object tokens = meta.get("tokenizer.ggml.tokens");
            vocab = tokens instanceof Object[] o ? o.length : tokens instanceof List<?> l ? l.size() : -1;
        }
        if (vocab < 0) {
            vocab = 1; // replaced by token_embd's row count when the weights are bound
        }
        float ropeGlobal = m.floatOr("rope.freq_base", arch.ropeBase());
        float ropeScale = m.stringOr("rope.scaling.type", "none").equals("linear")
                ? m.floatOr("rope.scaling.factor", 1f) : 1f;
        int window = arch.hasLocalLayers() ? m.integerOr("attention.sliding_window", arch.slidingWindow()) : 0;
        // The pattern: one flag per layer (true = sliding window) or a period; GGUF has no key for the local base.
        Object pattern = meta.get(m.prefix() + "attention.sliding_window_pattern");
        boolean[] local = arch.hasLocalLayers() && pattern instanceof boolean[] p && p.length == layers ? p.clone()
                : arch.localLayers(layers, pattern instanceof Number n ? n.intValue() : arch.globalEvery());
        return new GemmaConfig(arch, hidden, layers, heads, kvHeads, headDim, ffn, vocab, context, eps,
                ropeGlobal, arch.localRopeBase(ropeGlobal), ropeScale,
                arch.queryPreAttnScalar(layers, hidden, heads, headDim),
                m.floatOr("attn_logit_softcapping", arch.attnSoftCap()),
                m.floatOr("final_logit_softcapping", arch.finalSoftCap()), window, local,
                arch.postNorms(), arch.qkNorm(), (float) Math.sqrt(hidden), false);
    }

    // ---------------------------------------------------------------------------------------------------------
    // From Hugging Face config.json

    /**
     * Builds the config from a Hugging Face {@code config.json} (Gemma 3 multimodal checkpoints nest the language
     * model under {@code text_config}); what it does not say comes from {@link Architecture}. Understands both the
     * older keys ({@code rope_theta}, {@code rope_local_base_freq}, {@code rope_scaling},
     * {@code sliding_window_pattern}) and the newer {@code rope_parameters} / {@code layer_types}.
     */
    public static GemmaConfig fromHfConfig(JsonNode root, String source) {
        JsonNode c = root.has("text_config") && root.get("text_config").isObject() ? root.get("text_config") : root;
        Architecture arch = Architecture.fromHfModelType(text(c, "model_type", text(root, "model_type", "")), source);
        int hidden = req(c, "hidden_size", source);
        int layers = req(c, "num_hidden_layers", source);
        int heads = req(c, "num_attention_heads", source);
        int kvHeads = c.path("num_key_value_heads").asInt(heads);
        int headDim = c.path("head_dim").asInt(hidden / heads);
        int ffn = req(c, "intermediate_size", source);
        int vocab = req(c, "vocab_size", source);
        int context = c.path("max_position_embeddings").asInt(8192);
        float eps = (float) c.path("rms_norm_eps").asDouble(1e-6);

        float ropeGlobal = number(c, "rope_theta", arch.ropeBase());
        float ropeLocal = number(c, "rope_local_base_freq", arch.localRopeBase(ropeGlobal));
        float ropeScale = linearFactor(c.get("rope_scaling"));
        JsonNode rp = c.get("rope_parameters");
        if (rp != null && rp.isObject()) {
            if (rp.has("full_attention")) { // per layer type
                JsonNode full = rp.get("full_attention");
                ropeGlobal = number(full, "rope_theta", ropeGlobal);
                ropeScale = linearFactor(full);
                if (rp.has("sliding_attention")) {
                    ropeLocal = number(rp.get("sliding_attention"), "rope_theta", ropeLocal);
                }
            } else {
                ropeGlobal = number(rp, "rope_theta", ropeGlobal);
                ropeScale = linearFactor(rp);
            }
        }
        if (!arch.hasLocalRopeBase()) {
            ropeLocal = ropeGlobal;
        }

        int window = arch.hasLocalLayers() ? c.path("sliding_window").asInt(arch.slidingWindow()) : 0;
        boolean[] local;
        JsonNode types = c.get("layer_types");
        if (arch.hasLocalLayers() && types != null && types.isArray() && types.size() == layers) {
            local = new boolean[layers];
            for (int i = 0; i < layers; i++) {
                local[i] = types.get(i).asText().equals("sliding_attention");
            }
        } else {
            local = arch.localLayers(layers, c.path("sliding_window_pattern").asInt(arch.globalEvery()));
        }
        return new GemmaConfig(arch, hidden, layers, heads, kvHeads, headDim, ffn, vocab, context, eps,
                ropeGlobal, ropeLocal, ropeScale,
                number(c, "query_pre_attn_scalar", arch.queryPreAttnScalar(layers, hidden, heads, headDim)),
                number(c, "attn_logit_softcapping", arch.attnSoftCap()),
                number(c, "final_logit_softcapping", arch.finalSoftCap()), window, local,
                arch.postNorms(), arch.qkNorm(), (float) Math.sqrt(hidden), true);
    }

    /** A number from config.json; {@code dflt} when the key is absent, 0 (off) when it is null. */
    private static float number(JsonNode n, String key, float dflt) {
        JsonNode v = n.get(key);
        return v == null ? dflt : v.isNull() ? 0f : (float) v.asDouble(dflt);
    }

    private static float linearFactor(JsonNode scaling) {
        if (scaling == null || !scaling.isObject()) {
            return 1f;
        }
        String type = text(scaling, "rope_type", text(scaling, "type", "default"));
        return type.equals("linear") ? (float) scaling.path("factor").asDouble(1) : 1f;
    }

    private static String text(JsonNode n, String key, String dflt) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    private static int req(JsonNode n, String key, String source) {
        JsonNode v = n.get(key);
        if (v == null || !v.isNumber()) {
            throw new IllegalArgumentException(source + ": config.json has no numeric '" + key + "'");
        }
        return v.asInt();
    }

    /** Typed access to {@code <arch>.*} GGUF keys with one-line errors. */
    private record Meta(Map<String, ?> meta, String prefix, String source) {
        int integer(String key) {
            Object v = meta.get(prefix + key);
            if (v instanceof Number n) {
                return n.intValue();
            }
            throw new IllegalArgumentException(source + ": GGUF metadata lacks " + prefix + key);
        }

        int integerOr(String key, int dflt) {
            return meta.get(prefix + key) instanceof Number n ? n.intValue() : dflt;
        }

        float floatOr(String key, float dflt) {
            return meta.get(prefix + key) instanceof Number n ? n.floatValue() : dflt;
        }

        String stringOr(String key, String dflt) {
            Object v = meta.get(prefix + key);
            return v == null ? dflt : v.toString();
        }
    }

    @Override
    public String toString() {
        List<Integer> global = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            if (!isLocal(i)) {
                global.add(i);
            }
        }
        return architecture + "[hidden=" + hidden + " layers=" + layers + " heads=" + heads + "/" + kvHeads
                + " headDim=" + headDim + " ffn=" + ffn + " vocab=" + vocab + " window=" + slidingWindow
                + " globalLayers=" + (slidingWindow > 0 ? global : "all") + " rope=" + ropeBaseLocal + "/" + ropeBaseGlobal
                + " x" + ropeScaleGlobal + " qpas=" + queryPreAttnScalar + " softcap=" + attnSoftCap + "/" + finalSoftCap
                + " normPlusOne=" + normPlusOne + "]";
    }
}
