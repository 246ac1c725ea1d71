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
 * @param architecture        {@code gemma}, {@code gemma2} or {@code gemma3}
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
        String architecture,
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

    /** Architectures we serve, as GGUF's general.architecture names them. */
    public static final List<String> ARCHITECTURES = List.of("gemma", "gemma2", "gemma3");

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
     * Builds the config from GGUF metadata ({@code general.architecture}, then {@code <arch>.*} keys).
     *
     * @param meta    key -> value as the GGUF reader gives them (numbers as any {@link Number}, strings, arrays)
     * @param source  file name for error messages
     * @throws IllegalArgumentException with one line when the file is not a Gemma or misses a key
     */
    public static GemmaConfig fromGguf(Map<String, ?> meta, String source) {
        Object a = meta.get("general.architecture");
        String arch = a == null ? null : a.toString();
        if (arch == null) {
            throw new IllegalArgumentException(source + ": no general.architecture in the GGUF metadata");
        }
        if (!ARCHITECTURES.contains(arch)) {
            throw new IllegalArgumentException(source + ": architecture '" + arch
                    + "' is not Gemma (gemma, gemma2, gemma3 are served)");
        }
        Meta m = new Meta(meta, arch + ".", source);
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
        float ropeGlobal = m.floatOr("rope.freq_base", 10000f);
        float ropeScale = 1f;
        String scalingType = m.stringOr("rope.scaling.type", "none");
        if (scalingType.equals("linear")) {
            ropeScale = m.floatOr("rope.scaling.factor", 1f);
        }
        boolean[] local = new boolean[layers];
        int window = 0;
        float attnCap = 0f;
        float finalCap = 0f;
        float qpas;
        switch (arch) {
            case "gemma" -> qpas = headDim; // llama.cpp: 1/sqrt(head_dim)
            case "gemma2" -> {
                window = m.integerOr("attention.sliding_window", 4096);
                for (int i = 0; i < layers; i++) {
                    local[i] = i % 2 == 0; // even layers are local
                }
                attnCap = m.floatOr("attn_logit_softcapping", 50f);
                finalCap = m.floatOr("final_logit_softcapping", 30f);
                // No GGUF key: llama.cpp uses hidden/heads for the 27B (46 layers), head_dim otherwise.
                qpas = layers == 46 ? (float) hidden / heads : headDim;
            }
            default -> { // gemma3
                window = m.integerOr("attention.sliding_window", 512);
                Object pattern = meta.get(arch + ".attention.sliding_window_pattern");
                if (pattern instanceof boolean[] p && p.length == layers) { // per layer: true = sliding window
                    System.arraycopy(p, 0, local, 0, layers);
                } else {
                    int every = pattern instanceof Number n ? n.intValue() : 6;
                    for (int i = 0; i < layers; i++) {
                        local[i] = (i + 1) % every != 0; // layers 5, 11, ... are global
                    }
                }
                finalCap = m.floatOr("final_logit_softcapping", 0f);
                attnCap = m.floatOr("attn_logit_softcapping", 0f);
                // llama.cpp: hidden/heads for the 27B (62 layers), head_dim otherwise.
                qpas = layers == 62 ? (float) hidden / heads : headDim;
            }
        }
        boolean gemma1 = arch.equals("gemma");
        // Gemma 3's local base has no GGUF key (llama.cpp hard-codes 10k); Gemma 1/2 use one base everywhere.
        float ropeLocal = arch.equals("gemma3") ? 10000f : ropeGlobal;
        return new GemmaConfig(arch, hidden, layers, heads, kvHeads, headDim, ffn, vocab, context, eps,
                ropeGlobal, ropeLocal, ropeScale, qpas, attnCap, finalCap, window, local,
                !gemma1, arch.equals("gemma3"), (float) Math.sqrt(hidden), false);
    }

    // ---------------------------------------------------------------------------------------------------------
    // From Hugging Face config.json

    /**
     * Builds the config from a Hugging Face {@code config.json} (Gemma 3 multimodal checkpoints nest the language
     * model under {@code text_config}). Understands both the older keys ({@code rope_theta},
     * {@code rope_local_base_freq}, {@code rope_scaling}, {@code sliding_window_pattern}) and the newer
     * {@code rope_parameters} / {@code layer_types}.
     */
    public static GemmaConfig fromHfConfig(JsonNode root, String source) {
        JsonNode c = root.has("text_config") && root.get("text_config").isObject() ? root.get("text_config") : root;
        String modelType = text(c, "model_type", text(root, "model_type", ""));
        String arch;
        if (modelType.startsWith("gemma3")) {
            arch = "gemma3";
        } else if (modelType.startsWith("gemma2")) {
            arch = "gemma2";
        } else if (modelType.equals("gemma")) {
            arch = "gemma";
        } else {
            throw new IllegalArgumentException(source + ": model_type '" + modelType
                    + "' is not Gemma (gemma, gemma2, gemma3 are served)");
        }
        int hidden = req(c, "hidden_size", source);
        int layers = req(c, "num_hidden_layers", source);
        int heads = req(c, "num_attention_heads", source);
        int kvHeads = c.path("num_key_value_heads").asInt(heads);
        int headDim = c.path("head_dim").asInt(hidden / heads);
        int ffn = req(c, "intermediate_size", source);
        int vocab = req(c, "vocab_size", source);
        int context = c.path("max_position_embeddings").asInt(8192);
        float eps = (float) c.path("rms_norm_eps").asDouble(1e-6);

        float ropeGlobal = (float) c.path("rope_theta").asDouble(arch.equals("gemma3") ? 1_000_000 : 10000);
        float ropeLocal = (float) c.path("rope_local_base_freq").asDouble(10000);
        float ropeScale = linearFactor(c.get("rope_scaling"));
        JsonNode rp = c.get("rope_parameters");
        if (rp != null && rp.isObject()) {
            if (rp.has("full_attention")) { // per layer type
                JsonNode full = rp.get("full_attention");
                ropeGlobal = (float) full.path("rope_theta").asDouble(ropeGlobal);
                ropeScale = linearFactor(full);
                if (rp.has("sliding_attention")) {
                    ropeLocal = (float) rp.get("sliding_attention").path("rope_theta").asDouble(ropeLocal);
                }
            } else {
                ropeGlobal = (float) rp.path("rope_theta").asDouble(ropeGlobal);
                ropeScale = linearFactor(rp);
            }
        }
        if (!arch.equals("gemma3")) {
            ropeLocal = ropeGlobal; // Gemma 2 uses one base for all layers
        }

        boolean[] local = new boolean[layers];
        int window = 0;
        if (!arch.equals("gemma")) {
            window = c.path("sliding_window").asInt(arch.equals("gemma2") ? 4096 : 512);
            JsonNode types = c.get("layer_types");
            if (types != null && types.isArray() && types.size() == layers) {
                for (int i = 0; i < layers; i++) {
                    local[i] = types.get(i).asText().equals("sliding_attention");
                }
            } else {
                int every = arch.equals("gemma2") ? 2 : c.path("sliding_window_pattern").asInt(6);
                for (int i = 0; i < layers; i++) {
                    local[i] = (i + 1) % every != 0;
                }
            }
        }
        float qpas = (float) c.path("query_pre_attn_scalar").asDouble(headDim);
        float attnCap = (float) c.path("attn_logit_softcapping").asDouble(0);
        float finalCap = (float) c.path("final_logit_softcapping").asDouble(0);
        return new GemmaConfig(arch, hidden, layers, heads, kvHeads, headDim, ffn, vocab, context, eps,
                ropeGlobal, ropeLocal, ropeScale, qpas, attnCap, finalCap, window, local,
                !arch.equals("gemma"), arch.equals("gemma3"), (float) Math.sqrt(hidden), true);
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
