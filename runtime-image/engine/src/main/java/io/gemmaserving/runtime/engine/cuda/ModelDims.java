package io.gemmaserving.runtime.engine.cuda;

/**
 * The model dimensions the CUDA host-side planning needs (a subset of the model package's GemmaConfig, kept here so
 * this package does not depend on the forward pass's classes): widths, head counts and which layers are
 * sliding-window ("local") layers.
 *
 * @param localLayers per layer: true for a sliding-window layer (only meaningful when {@code slidingWindow > 0})
 */
public record ModelDims(int hidden, int layers, int heads, int kvHeads, int headDim, int ffn, int vocab,
                        int slidingWindow, boolean[] localLayers) {

    public ModelDims {
        if (hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0 || ffn <= 0 || vocab <= 0) {
            throw new IllegalArgumentException("model dimensions must be positive: hidden=" + hidden + " layers="
                    + layers + " heads=" + heads + " kvHeads=" + kvHeads + " headDim=" + headDim + " ffn=" + ffn
                    + " vocab=" + vocab);
        }
        if (localLayers.length != layers) {
            throw new IllegalArgumentException(localLayers.length + " layer types for " + layers + " layers");
        }
    }

    public boolean isLocal(int layer) {
        return slidingWindow > 0 && localLayers[layer];
    }

    /** Gemma 3's layout: every {@code every}-th layer (5, 11, ... for 6) global, the others local. */
    public static boolean[] everyNthGlobal(int layers, int every) {
        boolean[] local = new boolean[layers];
        for (int i = 0; i < layers; i++) {
            local[i] = (i + 1) % every != 0;
        }
        return local;
    }
}
