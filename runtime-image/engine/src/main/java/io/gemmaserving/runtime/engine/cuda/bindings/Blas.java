package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.MemorySegment;

/** The cuBLAS calls the engine makes ({@link Cublas} is the real one). */
public interface Blas {

    MemorySegment create();

    void destroy(MemorySegment handle);

    void setStream(MemorySegment handle, MemorySegment stream);

    /** {@code C = alpha op(A) op(B) + beta C}, column-major, as {@code cublasGemmEx}. */
    void gemmEx(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha,
                long a, int aType, int lda, long b, int bType, int ldb, float beta,
                long c, int cType, int ldc, int computeType, int algo);
}
