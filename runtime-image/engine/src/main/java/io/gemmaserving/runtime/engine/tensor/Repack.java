package io.gemmaserving.runtime.engine.tensor;

/**
 * Chooses, at load, the layout the Vector API backend streams a weight in: the formats with a repacked decode
 * kernel get a copy in that layout (see {@link Q8_0x4Tensor}); the others stay on the mapped bytes.
 */
public final class Repack {

    private Repack() {
    }

    /** {@code t} in the layout of its fastest CPU kernel (itself when it has none). */
    public static WeightTensor forVector(WeightTensor t) {
        if (!Simd.QUANT_OK) {
            return t;
        }
        if (t instanceof Q8_0Tensor q) {
            return Q8_0x4Tensor.repack(q);
        }
        return t;
    }
}
