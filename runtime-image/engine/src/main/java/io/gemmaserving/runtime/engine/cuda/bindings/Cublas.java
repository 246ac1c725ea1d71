package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static io.gemmaserving.runtime.engine.cuda.bindings.Native.INT;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.PTR;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.status;

/**
 * cuBLAS through FFM: a handle bound to a stream and {@code cublasGemmEx} with 16-bit inputs and fp32 accumulation
 * (tensor cores). cuBLAS is column-major; {@link io.gemmaserving.runtime.engine.cuda.GemmShape} maps our row-major
 * [rows x cols] weights onto it. All pointers except alpha/beta (host, the default pointer mode) are device pointers.
 */
public final class Cublas implements Blas {

    /** cublasOperation_t */
    public static final int OP_N = 0;
    public static final int OP_T = 1;
    /** cudaDataType_t (library_types.h) */
    public static final int CUDA_R_32F = 0;
    public static final int CUDA_R_16F = 2;
    public static final int CUDA_R_16BF = 14;
    /** cublasComputeType_t: fp32 accumulation */
    public static final int COMPUTE_32F = 68;
    /** cublasGemmAlgo_t: let cuBLAS choose (tensor cores where the types allow) */
    public static final int GEMM_DEFAULT = -1;

    private final MethodHandle cublasCreate, cublasDestroy, cublasSetStream, cublasGemmEx;

    public Cublas(SymbolLookup lib) {
        String l = "libcublas";
        // cublas_api.h maps cublasCreate etc. to their _v2 exports.
        cublasCreate = Native.function(lib, l, "cublasCreate_v2", status(PTR));
        cublasDestroy = Native.function(lib, l, "cublasDestroy_v2", status(PTR));
        cublasSetStream = Native.function(lib, l, "cublasSetStream_v2", status(PTR, PTR));
        cublasGemmEx = Native.function(lib, l, "cublasGemmEx", status(PTR, INT, INT, INT, INT, INT,
                PTR, PTR, INT, INT, PTR, INT, INT, PTR, PTR, INT, INT, INT, INT));
    }

    /** Finds and binds cuBLAS (see {@link CudaLibraries#cublas()}). */
    public static Cublas load() {
        return new Cublas(CudaLibraries.cublas());
    }

    /** A handle for the current context (call on the device's thread). */
    public MemorySegment create() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(PTR);
            check("cublasCreate_v2", (int) cublasCreate.invokeExact(out));
            return out.get(PTR, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void destroy(MemorySegment handle) {
        try {
            check("cublasDestroy_v2", (int) cublasDestroy.invokeExact(handle));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void setStream(MemorySegment handle, MemorySegment stream) {
        try {
            check("cublasSetStream_v2", (int) cublasSetStream.invokeExact(handle, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C}, column-major, m x n result, inner dimension k.
     * {@code a}, {@code b}, {@code c} are device pointers.
     */
    public void gemmEx(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha,
                       long a, int aType, int lda, long b, int bType, int ldb, float beta,
                       long c, int cType, int ldc, int computeType, int algo) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alphaSeg = arena.allocateFrom(ValueLayout.JAVA_FLOAT, alpha);
            MemorySegment betaSeg = arena.allocateFrom(ValueLayout.JAVA_FLOAT, beta);
            int rc = (int) cublasGemmEx.invokeExact(handle, transA, transB, m, n, k, alphaSeg,
                    MemorySegment.ofAddress(a), aType, lda, MemorySegment.ofAddress(b), bType, ldb, betaSeg,
                    MemorySegment.ofAddress(c), cType, ldc, computeType, algo);
            if (rc != 0) {
                throw new CudaException("cublasGemmEx", rc, ErrorNames.cublasStatus(rc),
                        "m=" + m + " n=" + n + " k=" + k);
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static void check(String call, int rc) {
        if (rc != 0) {
            throw new CudaException(call, rc, ErrorNames.cublasStatus(rc));
        }
    }
}
