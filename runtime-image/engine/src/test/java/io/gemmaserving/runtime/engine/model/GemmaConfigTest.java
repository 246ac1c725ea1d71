package io.gemmaserving.runtime.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Both readers take what a checkpoint does not state from the {@link Architecture} table, and what it states from
 * the checkpoint. The expected values are the published configs' (Hugging Face) for the shapes named.
 */
@Tag("unit")
class GemmaConfigTest {

    /** The keys every GGUF must have, for a model of the given shape. */
    private static Map<String, Object> gguf(String arch, int hidden, int layers, int heads, int headDim) {
        Map<String, Object> m = new HashMap<>();
        m.put("general.architecture", arch);
        m.put(arch + ".embedding_length", hidden);
        m.put(arch + ".block_count", layers);
        m.put(arch + ".attention.head_count", heads);
        m.put(arch + ".attention.key_length", headDim);
        m.put(arch + ".feed_forward_length", 4 * hidden);
        m.put(arch + ".vocab_size", 256);
        return m;
    }

    private static boolean[] localEvery(int layers, int period) {
        boolean[] l = new boolean[layers];
        for (int i = 0; i < layers; i++) {
            l[i] = (i + 1) % period != 0;
        }
        return l;
    }

    @Test
    void ggufWithoutOptionalKeysGetsEachGenerationsDefaults() {
        GemmaConfig g1 = GemmaConfig.fromGguf(gguf("gemma", 2048, 18, 8, 256), "gemma-2b");
        assertEquals(Architecture.GEMMA, g1.architecture());
        assertEquals(0, g1.slidingWindow());
        assertFalse(g1.isLocal(0));
        assertFalse(g1.postNorms() || g1.qkNorm());
        assertEquals(256f, g1.queryPreAttnScalar());
        assertEquals(0f, g1.attnSoftCap());

        // gemma-2-9b: 42 layers, even ones local with a 4096 window, soft caps 50 / 30, scalar = head_dim
        GemmaConfig g2 = GemmaConfig.fromGguf(gguf("gemma2", 3584, 42, 16, 256), "gemma-2-9b");
        assertEquals(4096, g2.slidingWindow());
        assertArrayEquals(localEvery(42, 2), g2.localLayers());
        assertEquals(50f, g2.attnSoftCap());
        assertEquals(30f, g2.finalSoftCap());
        assertEquals(256f, g2.queryPreAttnScalar());
        assertEquals(10_000f, g2.ropeBaseLocal());
        assertTrue(g2.postNorms() && !g2.qkNorm());

        // gemma-3-1b: window 512, every 6th layer global, local base 10k apart from the global 1M
        GemmaConfig g3 = GemmaConfig.fromGguf(gguf("gemma3", 1152, 26, 4, 256), "gemma-3-1b");
        assertEquals(512, g3.slidingWindow());
        assertArrayEquals(localEvery(26, 6), g3.localLayers());
        assertEquals(1_000_000f, g3.ropeBaseGlobal());
        assertEquals(10_000f, g3.ropeBaseLocal());
        assertEquals(0f, g3.finalSoftCap());
        assertTrue(g3.postNorms() && g3.qkNorm());
    }

    @Test
    void the27bScalesQueriesByHiddenOverHeads() {
        // gemma-2-27b: hidden 4608, 32 heads of 128, query_pre_attn_scalar 144; gemma-3-27b: 5376 / 32 = 168
        assertEquals(144f, GemmaConfig.fromGguf(gguf("gemma2", 4608, 46, 32, 128), "g2-27b").queryPreAttnScalar());
        assertEquals(168f, GemmaConfig.fromGguf(gguf("gemma3", 5376, 62, 32, 128), "g3-27b").queryPreAttnScalar());
        assertEquals(256f, GemmaConfig.fromGguf(gguf("gemma3", 3840, 48, 16, 256), "g3-12b").queryPreAttnScalar());
    }

    @Test
    void ggufKeysOverrideTheTable() {
        Map<String, Object> m = gguf("gemma3", 640, 18, 4, 256);
        m.put("gemma3.rope.freq_base", 123f);
        m.put("gemma3.attention.sliding_window", 64);
        m.put("gemma3.attention.sliding_window_pattern", 3);
        m.put("gemma3.final_logit_softcapping", 7f);
        GemmaConfig c = GemmaConfig.fromGguf(m, "custom");
        assertEquals(123f, c.ropeBaseGlobal());
        assertEquals(10_000f, c.ropeBaseLocal(), "no GGUF key for the local base: the table's");
        assertEquals(64, c.slidingWindow());
        assertArrayEquals(localEvery(18, 3), c.localLayers());
        assertEquals(7f, c.finalSoftCap());
        boolean[] flags = new boolean[18];
        flags[4] = true;
        m.put("gemma3.attention.sliding_window_pattern", flags);
        assertArrayEquals(flags, GemmaConfig.fromGguf(m, "flags").localLayers(), "per-layer flags: true = local");
    }

    @Test
    void hfModelTypesMapToTheirGeneration() {
        ObjectMapper json = new ObjectMapper();
        for (var e : Map.of("gemma", Architecture.GEMMA, "gemma2", Architecture.GEMMA2, "gemma3", Architecture.GEMMA3,
                "gemma3_text", Architecture.GEMMA3).entrySet()) {
            ObjectNode c = json.createObjectNode().put("model_type", e.getKey()).put("hidden_size", 64)
                    .put("num_hidden_layers", 4).put("num_attention_heads", 2).put("intermediate_size", 128)
                    .put("vocab_size", 100);
            GemmaConfig g = GemmaConfig.fromHfConfig(c, e.getKey());
            assertEquals(e.getValue(), g.architecture(), e.getKey());
            assertEquals(e.getValue().slidingWindow(), g.slidingWindow(), e.getKey());
            assertEquals(e.getValue().attnSoftCap(), g.attnSoftCap(), e.getKey());
            assertTrue(g.normPlusOne(), "HF stores norm weights without the +1");
        }
        ObjectNode nulls = json.createObjectNode().put("model_type", "gemma2").put("hidden_size", 64)
                .put("num_hidden_layers", 4).put("num_attention_heads", 2).put("intermediate_size", 128)
                .put("vocab_size", 100).putNull("final_logit_softcapping");
        assertEquals(0f, GemmaConfig.fromHfConfig(nulls, "nulls").finalSoftCap(), "an explicit null turns it off");
        var e = assertThrows(IllegalArgumentException.class,
                () -> GemmaConfig.fromHfConfig(json.createObjectNode().put("model_type", "llama"), "x"));
        assertEquals("x: model_type 'llama' is not Gemma (gemma, gemma2, gemma3 are served)", e.getMessage());
        var g = assertThrows(IllegalArgumentException.class, () -> GemmaConfig.fromGguf(gguf("llama", 8, 1, 1, 8), "y"));
        assertEquals("y: architecture 'llama' is not Gemma (gemma, gemma2, gemma3 are served)", g.getMessage());
    }
}
