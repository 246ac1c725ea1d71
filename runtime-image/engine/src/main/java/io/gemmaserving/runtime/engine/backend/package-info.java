/**
 * Where matrix products run: {@link io.gemmaserving.runtime.engine.backend.ScalarBackend} (the reference, one
 * thread), {@link io.gemmaserving.runtime.engine.backend.VectorBackend} (Vector API kernels on a fixed pool of
 * threads, batched products by dequantized tiles), chosen by
 * {@link io.gemmaserving.runtime.engine.backend.Backends#select} (system property {@code gemma.backend}).
 */
package io.gemmaserving.runtime.engine.backend;
