package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Blas;
import io.gemmaserving.runtime.engine.cuda.bindings.Cublas;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import java.lang.foreign.MemorySegment;

/**
 * {@code out [n x rows] = x [n x cols] . W^T} on one rank, choosing the kernel by batch and format: a few rows
 * (decode) stream the stored weight once through a fused dequantize-matvec kernel; many rows (prefill) go to cuBLAS
 * GemmEx with 16-bit inputs and f32 accumulation, the activations rounded to the weight's 16-bit type, a quantized
 * weight dequantized to bf16 in row chunks that fit the scratch. Without cuBLAS every product uses the matvec kernels
 * (correct, but a prefill re-reads the weight once per 8 rows).
 */
public final class Matmul {

    /** Up to this many rows the matvec kernels run (they re-read the weight once per 8 rows). */
    public static final int MATVEC_MAX_ROWS = 16;

    /** Which kernel a product runs. */
    public enum Path {
        /** Per-element dequantizing matvec (any supported type). */
        MATVEC,
        /** The 16-byte-load BF16 matvec. */
        MATVEC_BF16,
        /** GemmEx straight on the stored F32/F16/BF16 weight. */
        GEMM,
        /** dequant_bf16 of row chunks, then GemmEx per chunk. */
        GEMM_DEQUANT
    }

    private final Kernels kernels;
    private final Blas cublas;        // null: no cuBLAS
    private final MemorySegment handle; // cuBLAS handle bound to the rank's stream
    private final Workspace ws;

    public Matmul(Kernels kernels, Blas cublas, MemorySegment handle, Workspace ws) {
        this.kernels = kernels;
        this.cublas = cublas;
        this.handle = handle;
        this.ws = ws;
    }

    /** The kernel for an {@code n}-row product with a {@code type} weight of {@code cols} columns. */
    public static Path path(TensorType type, int cols, int n, boolean haveCublas) {
        if (n <= MATVEC_MAX_ROWS || !haveCublas) {
            return type == TensorType.BF16 && cols % 8 == 0 ? Path.MATVEC_BF16 : Path.MATVEC;
        }
        return switch (type) {
            case F32, F16, BF16 -> Path.GEMM;
            default -> Path.GEMM_DEQUANT;
        };
    }

    /** Rows of a {@code cols}-wide weight that fit {@code scratchBytes} as bf16 (at least 1). */
    public static int chunkRows(int cols, long scratchBytes, long rows) {
        return (int) Math.max(1, Math.min(rows, scratchBytes / (2L * cols)));
    }

    /** Queues the product on {@code stream}; {@code x} and {@code out} are f32 device buffers. */
    public void run(MemorySegment stream, DeviceTensor w, long x, long out, int n) {
        int rows = Math.toIntExact(w.rows());
        int cols = w.cols();
        switch (path(w.type(), cols, n, cublas != null)) {
            case MATVEC -> kernels.matvec(stream, w, x, out, n);
            case MATVEC_BF16 -> kernels.matvecBf16(stream, w, x, out, n);
            case GEMM -> {
                GemmShape g = GemmShape.forMatmul(rows, cols, n);
                long b = x;
                int inType = Cublas.CUDA_R_32F;
                if (w.type() != TensorType.F32) {
                    kernels.toHalf(stream, w.type(), x, ws.half(), (long) n * cols);
                    b = ws.half();
                    inType = w.type() == TensorType.F16 ? Cublas.CUDA_R_16F : Cublas.CUDA_R_16BF;
                }
                cublas.gemmEx(handle, g.transA(), g.transB(), g.m(), g.n(), g.k(), 1f, w.ptr(), inType, g.lda(),
                        b, inType, g.ldb(), 0f, out, Cublas.CUDA_R_32F, g.ldc(), Cublas.COMPUTE_32F, Cublas.GEMM_DEFAULT);
            }
            case GEMM_DEQUANT -> {
                kernels.toHalf(stream, TensorType.BF16, x, ws.half(), (long) n * cols);
                int chunk = chunkRows(cols, ws.dequantBytes(), rows);
                for (int r0 = 0; r0 < rows; r0 += chunk) {
                    int rc = Math.min(chunk, rows - r0);
                    kernels.dequantBf16(stream, w, r0, rc, ws.dequant());
                    // C rows r0 .. r0+rc of the column-major [rows x n] result: start at out + r0, ldc = rows
                    cublas.gemmEx(handle, Cublas.OP_T, Cublas.OP_N, rc, n, cols, 1f, ws.dequant(), Cublas.CUDA_R_16BF,
                            cols, ws.half(), Cublas.CUDA_R_16BF, cols, 0f, out + 4L * r0, Cublas.CUDA_R_32F, rows,
                            Cublas.COMPUTE_32F, Cublas.GEMM_DEFAULT);
                }
            }
        }
    }
}
