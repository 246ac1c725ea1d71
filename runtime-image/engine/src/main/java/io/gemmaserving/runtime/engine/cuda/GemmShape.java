package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Cublas;

/**
 * Our matmul, {@code out[b][r] = dot(W[r, :], x[b, :])} with row-major W [rows x cols], x [batch x cols] and
 * out [batch x rows], as the column-major call cuBLAS expects.
 *
 * <p>A row-major [R x C] matrix is the column-major [C x R] matrix with leading dimension C. So W is column-major
 * [cols x rows] (ld = cols) and we want its transpose; x is column-major [cols x batch] (ld = cols); out is
 * column-major [rows x batch] (ld = rows), which is exactly row-major [batch x rows]. Hence
 * {@code C(rows x batch) = op_T(W) (rows x cols) * op_N(x) (cols x batch)}: m = rows, n = batch, k = cols.
 */
public record GemmShape(int transA, int transB, int m, int n, int k, int lda, int ldb, int ldc) {

    public static GemmShape forMatmul(long rows, int cols, int batch) {
        if (rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(rows + " rows exceed cuBLAS's 32-bit dimensions");
        }
        return new GemmShape(Cublas.OP_T, Cublas.OP_N, (int) rows, batch, cols, cols, cols, (int) rows);
    }
}
