package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.tensor.WeightTensor;

/** The reference: one thread, {@link WeightTensor#dotScalar} for every output. Slow; for tests and for checking. */
public final class ScalarBackend implements Backend {

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void matmul(WeightTensor w, float[] x, float[] out, int batch) {
        int rows = Backends.checkShapes(w, x, out, batch);
        int cols = w.cols();
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                out[b * rows + r] = w.dotScalar(r, x, b * cols);
            }
        }
    }
}
