package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.tensor.WeightTensor;

/**
 * Where the large matrix products run. The scalar backend is the reference the others are tested against;
 * the Vector API backend is the CPU default; a CUDA backend runs on NVIDIA GPUs. Chosen at start-up and logged;
 * the system property {@code gemma.backend} forces one.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and metrics: {@code scalar}, {@code vector}, {@code cuda}. */
    String name();

    /**
     * Batched matrix product: {@code out[b * w.rows() + r] = dot(W[r, :], x[b * w.cols() .. +cols))} for every
     * {@code b < batch} and {@code r < w.rows()}. Batched prefill and batched decode both come through here,
     * so one pass over the weights serves every sequence in the batch.
     *
     * @param w     weights [rows x cols]
     * @param x     activations [batch x cols], row-major
     * @param out   results [batch x rows], row-major
     * @param batch number of activation rows
     */
    void matmul(WeightTensor w, float[] x, float[] out, int batch);

    @Override
    default void close() {
    }
}
