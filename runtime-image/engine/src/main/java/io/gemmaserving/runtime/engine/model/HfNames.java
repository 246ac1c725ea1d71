package io.gemmaserving.runtime.engine.model;

import java.util.HashMap;
import java.util.Map;

/**
 * Hugging Face tensor names -> the GGUF names {@link GemmaWeights#bind} asks for.
 *
 * <p>HF: {@code model.layers.N.self_attn.q_proj.weight}; Gemma 3 multimodal checkpoints put the language model under
 * {@code language_model.model.} or {@code model.language_model.}. Gemma 1 calls its pre-FFN norm
 * {@code post_attention_layernorm}; Gemma 2/3 use that name for the post-attention norm and call the pre-FFN one
 * {@code pre_feedforward_layernorm}.
 */
public final class HfNames {

    private HfNames() {
    }

    private static final Map<String, String> LAYER = Map.ofEntries(
            Map.entry("input_layernorm.weight", "attn_norm"),
            Map.entry("self_attn.q_proj.weight", "attn_q"),
            Map.entry("self_attn.k_proj.weight", "attn_k"),
            Map.entry("self_attn.v_proj.weight", "attn_v"),
            Map.entry("self_attn.o_proj.weight", "attn_output"),
            Map.entry("self_attn.q_norm.weight", "attn_q_norm"),
            Map.entry("self_attn.k_norm.weight", "attn_k_norm"),
            Map.entry("mlp.gate_proj.weight", "ffn_gate"),
            Map.entry("mlp.up_proj.weight", "ffn_up"),
            Map.entry("mlp.down_proj.weight", "ffn_down"),
            Map.entry("pre_feedforward_layernorm.weight", "ffn_norm"),
            Map.entry("post_feedforward_layernorm.weight", "post_ffw_norm"));

    /** The GGUF name of an HF tensor, or null for tensors the language model does not use (vision tower, lm_head). */
    public static String toGguf(String hfName, Architecture architecture) {
        String n = hfName;
        for (String prefix : new String[] {"model.language_model.", "language_model.model.", "language_model.", "model."}) {
            if (n.startsWith(prefix)) {
                n = n.substring(prefix.length());
                break;
            }
        }
        if (n.equals("embed_tokens.weight")) {
            return "token_embd.weight";
        }
        if (n.equals("norm.weight")) {
            return "output_norm.weight";
        }
        if (!n.startsWith("layers.")) {
            return null;
        }
        int dot = n.indexOf('.', 7);
        if (dot < 0) {
            return null;
        }
        String layer = n.substring(7, dot);
        String rest = n.substring(dot + 1);
        String g = rest.equals("post_attention_layernorm.weight")
                ? (architecture.postNorms() ? "post_attention_norm" : "ffn_norm")
                : LAYER.get(rest);
        return g == null ? null : "blk." + layer + "." + g + ".weight";
    }

    /** GGUF name -> HF name for every HF name that maps. */
    public static Map<String, String> ggufToHf(Iterable<String> hfNames, Architecture architecture) {
        Map<String, String> m = new HashMap<>();
        for (String hf : hfNames) {
            String g = toGguf(hf, architecture);
            if (g != null) {
                m.putIfAbsent(g, hf);
            }
        }
        return m;
    }
}
