// RMSNorm over the last dimension: out = x / sqrt(mean(x^2) + eps) * (w or 1 + w).
// Rows are tokens for the block norms, or tokens x heads for Gemma 3's per-head QK-norm (dim = head_dim).
// GGUF files bake the +1 into the weights (plus_one = 0); Hugging Face weights need it (plus_one = 1).
// Grid: one block per row; block: 256 threads. In-place (out == x) is allowed.
#include "common.cuh"

extern "C" __global__ void rmsnorm(const float* x, const float* w, float* out, int dim, float eps, int plus_one) {
    __shared__ float partial[32];
    const float* xr = x + (i64) blockIdx.x * dim;
    float* o = out + (i64) blockIdx.x * dim;
    float ss = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
    ss = warp_sum(ss);
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) partial[warp] = ss;
    __syncthreads();
    if (warp == 0) {
        float v = lane < (blockDim.x + 31) / 32 ? partial[lane] : 0.f;
        v = warp_sum(v);
        if (lane == 0) partial[0] = v;
    }
    __syncthreads();
    float inv = rsqrtf(partial[0] / (float) dim + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float g = plus_one ? 1.f + w[i] : w[i];
        o[i] = xr[i] * inv * g;
    }
}
