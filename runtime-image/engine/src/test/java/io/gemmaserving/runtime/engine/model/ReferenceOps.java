package io.gemmaserving.runtime.engine.model;

/** The model's package-private reference operations, for the CUDA kernel tests in another package. */
public final class ReferenceOps {

    private ReferenceOps() {
    }

    /** {@link GemmaModel#rmsNorm} with the F32 numerics: sum of squares in double, one float scale. */
    public static void rmsNorm(float[] in, int i, float[] out, int o, float[] weight, int n, float eps) {
        GemmaModel.rmsNorm(in, i, out, o, weight, n, eps, false);
    }
}
