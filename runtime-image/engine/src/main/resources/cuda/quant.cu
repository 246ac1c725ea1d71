// Weight matrices in their stored format (F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K): fused dequantize + matrix-vector
// product for decode (small batch), and dequantization to bf16 for cuBLAS (large batch), embedding lookup.
// A weight is [rows x cols] row-major, each row row_bytes long (cols / block size * bytes per block).
#include "common.cuh"

#define MATVEC_MAX_BATCH 8

// out[b * rows + r] = dot(W[r, :], x[b * cols ..]) for b < batch, r < rows.
// Block: 128 threads = 4 warps, one row per warp; grid.x = ceil(rows / 4), grid.y = ceil(batch / 8).
// Lanes stride over the row's elements, so a warp reads the row's bytes front to back (coalesced within blocks).
extern "C" __global__ void matvec(const u8* w, int type, i64 row_bytes, int rows, int cols,
                                  const float* x, float* out, int batch) {
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + warp;
    if (row >= rows) return;
    int b0 = blockIdx.y * MATVEC_MAX_BATCH;
    int nb = min(MATVEC_MAX_BATCH, batch - b0);
    const u8* wr = w + (i64) row * row_bytes;
    const float* xb = x + (i64) b0 * cols;
    float acc[MATVEC_MAX_BATCH];
#pragma unroll
    for (int b = 0; b < MATVEC_MAX_BATCH; b++) acc[b] = 0.f;
    for (int e = lane; e < cols; e += 32) {
        float wv = dequant_elem(type, wr, e);
#pragma unroll
        for (int b = 0; b < MATVEC_MAX_BATCH; b++) {
            if (b < nb) acc[b] += wv * xb[(i64) b * cols + e];
        }
    }
#pragma unroll
    for (int b = 0; b < MATVEC_MAX_BATCH; b++) {
        float v = warp_sum(acc[b]);
        if (lane == 0 && b < nb) out[(i64) (b0 + b) * rows + row] = v;
    }
}

// The same product for BF16 weights with 16-byte loads: each lane reads 8 weights (one uint4) and 8 inputs (two
// float4) per iteration, so a warp streams 512 contiguous bytes of its row at a time, the access pattern that
// reaches HBM bandwidth at batch 1 (the per-element matvec above issues 2-byte loads). Needs cols % 8 == 0 and
// 16-byte-aligned w and x (row_bytes = 2 * cols keeps every row aligned).
// Block: 128 threads = 4 warps, one row per warp; grid.x = ceil(rows / 4), grid.y = ceil(batch / 8).
extern "C" __global__ void matvec_bf16(const u16* w, int rows, int cols, const float* x, float* out, int batch) {
    int warp = threadIdx.x >> 5;
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + warp;
    if (row >= rows) return;
    int b0 = blockIdx.y * MATVEC_MAX_BATCH;
    int nb = min(MATVEC_MAX_BATCH, batch - b0);
    const uint4* wr = (const uint4*) (w + (i64) row * cols);
    const float* xb = x + (i64) b0 * cols;
    float acc[MATVEC_MAX_BATCH];
#pragma unroll
    for (int b = 0; b < MATVEC_MAX_BATCH; b++) acc[b] = 0.f;
    int vecs = cols >> 3;
    for (int i = lane; i < vecs; i += 32) {
        uint4 pk = wr[i];
        float wv[8];
        unsigned int words[4] = {pk.x, pk.y, pk.z, pk.w};
#pragma unroll
        for (int j = 0; j < 4; j++) {
            wv[2 * j] = __uint_as_float(words[j] << 16);
            wv[2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u);
        }
#pragma unroll
        for (int b = 0; b < MATVEC_MAX_BATCH; b++) {
            if (b < nb) {
                const float4* xv = (const float4*) (xb + (i64) b * cols) + 2 * i;
                float4 x0 = xv[0], x1 = xv[1];
                acc[b] += wv[0] * x0.x + wv[1] * x0.y + wv[2] * x0.z + wv[3] * x0.w
                        + wv[4] * x1.x + wv[5] * x1.y + wv[6] * x1.z + wv[7] * x1.w;
            }
        }
    }
#pragma unroll
    for (int b = 0; b < MATVEC_MAX_BATCH; b++) {
        float v = warp_sum(acc[b]);
        if (lane == 0 && b < nb) out[(i64) (b0 + b) * rows + row] = v;
    }
}

// out (bf16) [rows x cols] = dequantized W rows [row0, row0 + rows). Grid-stride over elements.
extern "C" __global__ void dequant_bf16(const u8* w, int type, i64 row_bytes, int row0, int rows, int cols, u16* out) {
    i64 n = (i64) rows * cols;
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        int r = (int) (i / cols);
        int c = (int) (i - (i64) r * cols);
        out[i] = f32_to_bf16(dequant_elem(type, w + (i64) (row0 + r) * row_bytes, c));
    }
}

// out [n_tok x cols] = table[tokens[t], :] * scale (Gemma scales embeddings by sqrt(hidden)). Grid: n_tok blocks.
extern "C" __global__ void embed(const u8* table, int type, i64 row_bytes, int vocab, int cols,
                                 const int* tokens, float scale, float* out) {
    int t = blockIdx.x;
    int tok = tokens[t];
    float* o = out + (i64) t * cols;
    if (tok < 0 || tok >= vocab) { // out-of-range id: NaN row, so the error shows instead of reading garbage
        for (int c = threadIdx.x; c < cols; c += blockDim.x) o[c] = __int_as_float(0x7fc00000);
        return;
    }
    const u8* row = table + (i64) tok * row_bytes;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) o[c] = dequant_elem(type, row, c) * scale;
}
