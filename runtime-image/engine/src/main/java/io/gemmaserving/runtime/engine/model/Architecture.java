package io.gemmaserving.runtime.engine.model;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The three Gemma generations and every default that differs between them, in one table. A checkpoint's own keys
 * override these (see {@link GemmaConfig#fromGguf} and {@link GemmaConfig#fromHfConfig}); what a format does not
 * store comes from here. The values are those of Hugging Face transformers' config classes and llama.cpp's loader,
 * which agree on them.
 *
 * <table>
 *   <caption>Defaults per generation</caption>
 *   <tr><th></th><th>Gemma</th><th>Gemma 2</th><th>Gemma 3</th></tr>
 *   <tr><td>sliding window</td><td>none</td><td>4096</td><td>512</td></tr>
 *   <tr><td>global layers</td><td>all</td><td>every 2nd (1, 3, ...)</td><td>every 6th (5, 11, ...)</td></tr>
 *   <tr><td>RoPE base, global / local</td><td>10k / -</td><td>10k / 10k</td><td>1M / 10k</td></tr>
 *   <tr><td>soft caps, attention / final</td><td>off</td><td>50 / 30</td><td>off</td></tr>
 *   <tr><td>post-attention and post-FFN norms</td><td>no</td><td>yes</td><td>yes</td></tr>
 *   <tr><td>per-head query/key norm</td><td>no</td><td>no</td><td>yes</td></tr>
 *   <tr><td>layers of the 27B (query scalar hidden / heads)</td><td>-</td><td>46</td><td>62</td></tr>
 * </table>
 */
public enum Architecture {
    GEMMA("gemma", 0, 0, 10_000f, 0f, 0f, 0f, false, false, 0),
    GEMMA2("gemma2", 4096, 2, 10_000f, 0f, 50f, 30f, true, false, 46),
    GEMMA3("gemma3", 512, 6, 1_000_000f, 10_000f, 0f, 0f, true, true, 62);

    private final String ggufName;
    private final int slidingWindow;
    private final int globalEvery;
    private final float ropeBase;
    private final float localRopeBase;
    private final float attnSoftCap;
    private final float finalSoftCap;
    private final boolean postNorms;
    private final boolean qkNorm;
    private final int layersOf27b;

    /**
     * @param ggufName       {@code general.architecture}, and the prefix of the HF {@code model_type}
     *                       ({@code gemma3_text} is Gemma 3)
     * @param slidingWindow  window of the local layers in positions; 0: every layer attends to the whole context
     * @param globalEvery    layer {@code i} is global when {@code (i + 1) % globalEvery == 0}, local otherwise
     * @param ropeBase       RoPE base of the global layers
     * @param localRopeBase  RoPE base of the local layers; 0: the global one
     * @param layersOf27b    the 27B's layer count: its queries are scaled by (hidden / heads)^-0.5 instead of
     *                       head_dim^-0.5. GGUF stores no scalar, so llama.cpp tells the 27B by its layers as well.
     */
    Architecture(String ggufName, int slidingWindow, int globalEvery, float ropeBase, float localRopeBase,
                 float attnSoftCap, float finalSoftCap, boolean postNorms, boolean qkNorm, int layersOf27b) {
        this.ggufName = ggufName;
        this.slidingWindow = slidingWindow;
        this.globalEvery = globalEvery;
        this.ropeBase = ropeBase;
        this.localRopeBase = localRopeBase;
        this.attnSoftCap = attnSoftCap;
        this.finalSoftCap = finalSoftCap;
        this.postNorms = postNorms;
        this.qkNorm = qkNorm;
        this.layersOf27b = layersOf27b;
    }

    /** The GGUF {@code general.architecture} value. */
    public String ggufName() {
        return ggufName;
    }

    /** Whether some layers attend only to a sliding window (Gemma 2 and 3). */
    public boolean hasLocalLayers() {
        return slidingWindow > 0;
    }

    public int slidingWindow() {
        return slidingWindow;
    }

    /** The period of the local/global pattern when the checkpoint names none: every {@code n}-th layer is global. */
    public int globalEvery() {
        return globalEvery;
    }

    /** Per layer, true for a sliding-window layer, by the period {@code globalEvery}; none for Gemma 1. */
    public boolean[] localLayers(int layers, int globalEvery) {
        boolean[] local = new boolean[layers];
        if (hasLocalLayers()) {
            for (int i = 0; i < layers; i++) {
                local[i] = (i + 1) % globalEvery != 0;
            }
        }
        return local;
    }

    public float ropeBase() {
        return ropeBase;
    }

    /** Whether local layers have a RoPE base of their own (Gemma 3); otherwise they use the global one. */
    public boolean hasLocalRopeBase() {
        return localRopeBase > 0;
    }

    public float localRopeBase(float globalBase) {
        return hasLocalRopeBase() ? localRopeBase : globalBase;
    }

    public float attnSoftCap() {
        return attnSoftCap;
    }

    public float finalSoftCap() {
        return finalSoftCap;
    }

    public boolean postNorms() {
        return postNorms;
    }

    public boolean qkNorm() {
        return qkNorm;
    }

    /** Queries are scaled by the inverse square root of this when the checkpoint does not say. */
    public float queryPreAttnScalar(int layers, int hidden, int heads, int headDim) {
        return layers == layersOf27b ? (float) hidden / heads : headDim;
    }

    /** By GGUF {@code general.architecture}. */
    public static Architecture fromGguf(String name, String source) {
        for (Architecture a : values()) {
            if (a.ggufName.equals(name)) {
                return a;
            }
        }
        throw new IllegalArgumentException(source + ": architecture '" + name + "' is not Gemma (" + served()
                + " are served)");
    }

    /** By Hugging Face {@code model_type}: {@code gemma}, {@code gemma2}, {@code gemma3}, {@code gemma3_text}. */
    public static Architecture fromHfModelType(String modelType, String source) {
        // longest prefix first: "gemma3_text" starts with "gemma" too
        for (Architecture a : new Architecture[] {GEMMA3, GEMMA2}) {
            if (modelType.startsWith(a.ggufName)) {
                return a;
            }
        }
        if (modelType.equals(GEMMA.ggufName)) {
            return GEMMA;
        }
        throw new IllegalArgumentException(source + ": model_type '" + modelType + "' is not Gemma (" + served()
                + " are served)");
    }

    private static String served() {
        return Arrays.stream(values()).map(Architecture::ggufName).collect(Collectors.joining(", "));
    }

    /** The GGUF name, as logs and {@code general.architecture} show it. */
    @Override
    public String toString() {
        return ggufName;
    }
}
