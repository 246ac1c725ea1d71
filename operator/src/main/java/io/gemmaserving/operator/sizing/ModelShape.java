package io.gemmaserving.operator.sizing;

/**
 * The numbers sizing needs: parameters for the weights, and the attention shape for the KV cache.
 * {@code localLayersPerGlobal} local (sliding-window) layers precede each global one: Gemma 2 alternates (1),
 * Gemma 3 has five local per global (5), Gemma 1 has none (0, window 0).
 */
public record ModelShape(String name, long parameters, int layers, int attentionHeads, int kvHeads, int headDim,
                         int slidingWindow, int localLayersPerGlobal, int maxPositionEmbeddings) {

    /** Layers that attend over a sliding window: of each group of (local + 1), local are windowed. */
    public int localLayers() {
        if (slidingWindow <= 0 || localLayersPerGlobal <= 0) {
            return 0;
        }
        int group = localLayersPerGlobal + 1;
        int full = layers / group;
        return full * localLayersPerGlobal + Math.min(layers % group, localLayersPerGlobal);
    }

    public int globalLayers() {
        return layers - localLayers();
    }

    /**
     * KV-cache bytes for one sequence of {@code contextLength} tokens: per layer K and V, kvHeads x headDim values each,
     * for every token a global layer keeps and for at most the window on a local layer.
     */
    public long kvBytesPerSequence(int contextLength, double bytesPerValue) {
        long tokensKept = (long) globalLayers() * contextLength
                + (long) localLayers() * Math.min(contextLength, slidingWindow);
        return (long) Math.ceil(tokensKept * kvHeads * (double) headDim * 2 * bytesPerValue);
    }
}
