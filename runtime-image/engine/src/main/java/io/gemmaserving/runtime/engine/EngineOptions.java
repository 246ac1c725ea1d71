package io.gemmaserving.runtime.engine;

import io.gemmaserving.runtime.engine.model.Numerics;

/**
 * How to run a model, passed as a value from the server's or the CLI's options to {@link Engines#open}, and from
 * there to the engine that runs it.
 *
 * @param backend            {@code auto} (CUDA when a GPU is usable, else the CPU, and the log says which),
 *                           {@code cuda}, {@code cpu} / {@code vector} (Vector API kernels), {@code scalar}
 * @param threads            CPU kernel threads; 0 = one per available core
 * @param tensorParallelSize GPUs the model is split across (the CUDA engine); 1 on the CPU
 * @param numerics           {@link Numerics#F32}, or {@link Numerics#GGML} to round as llama.cpp does (CPU only)
 * @param kvCacheType        how the engine (CPU or CUDA) stores keys and values ({@link KvCacheType#F16} by default)
 */
public record EngineOptions(String backend, int threads, int tensorParallelSize, Numerics numerics,
                            KvCacheType kvCacheType) {

    public EngineOptions {
        backend = backend == null ? "auto" : backend.trim().toLowerCase(java.util.Locale.ROOT);
        numerics = numerics == null ? Numerics.F32 : numerics;
        kvCacheType = kvCacheType == null ? KvCacheType.F16 : kvCacheType;
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be 0 (one per core) or more, got " + threads);
        }
        if (tensorParallelSize < 1) {
            throw new IllegalArgumentException("tensor-parallel size must be 1 or more, got " + tensorParallelSize);
        }
    }

    /** With the default KV cache type (f16). */
    public EngineOptions(String backend, int threads, int tensorParallelSize, Numerics numerics) {
        this(backend, threads, tensorParallelSize, numerics, KvCacheType.F16);
    }

    public static EngineOptions defaults() {
        return new EngineOptions("auto", 0, 1, Numerics.F32, KvCacheType.F16);
    }
}
