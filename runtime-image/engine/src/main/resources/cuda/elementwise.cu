// Element-wise kernels: GeGLU with tanh-approximated GELU, residual add, soft-capping, f32 -> bf16 / f16, row
// gathers, and the random fills of synthetic benchmark weights.
// All grid-stride loops over n elements (any grid works; the host uses ceil(n / 256) capped at 65535 blocks).
#include "common.cuh"

// Gemma's hidden_activation gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
__device__ __forceinline__ float gelu_tanh(float x) {
    const float k = 0.7978845608028654f; // sqrt(2 / pi)
    return 0.5f * x * (1.f + tanhf(k * (x + 0.044715f * x * x * x)));
}

// out = gelu_tanh(gate) * up  (the GeGLU feed-forward's hidden activation, before the down projection).
extern "C" __global__ void geglu(const float* gate, const float* up, float* out, i64 n) {
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        out[i] = gelu_tanh(gate[i]) * up[i];
    }
}

// x += y (residual connections).
extern "C" __global__ void add_inplace(float* x, const float* y, i64 n) {
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        x[i] += y[i];
    }
}

// x = cap * tanh(x / cap): Gemma 2's final logit soft-capping (30). cap <= 0 leaves x alone.
extern "C" __global__ void softcap(float* x, i64 n, float cap) {
    if (cap <= 0.f) return;
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        x[i] = cap * tanhf(x[i] / cap);
    }
}

// Activations to bf16 for cuBLAS (round to nearest even).
extern "C" __global__ void to_bf16(const float* x, u16* out, i64 n) {
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        out[i] = f32_to_bf16(x[i]);
    }
}

// Activations to f16 for cuBLAS with F16 weights (round to nearest even).
extern "C" __global__ void to_f16(const float* x, u16* out, i64 n) {
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        out[i] = f32_to_f16(x[i]);
    }
}

// out[i][:] = x[rows[i]][:] for i < n_rows: the rows whose logits a step wants. Grid: n_rows blocks.
extern "C" __global__ void gather_rows(const float* x, const int* rows, float* out, int cols) {
    const float* src = x + (i64) rows[blockIdx.x] * cols;
    float* dst = out + (i64) blockIdx.x * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = src[c];
}

// A counter-based hash (splitmix64's finalizer) of element i and seed: the same weights for the same seed on any
// grid, with no state and no host round trip.
__device__ __forceinline__ float uniform_pm1(i64 i, unsigned int seed) {
    unsigned long long z = (unsigned long long) i * 0x9E3779B97F4A7C15ull + ((unsigned long long) seed << 32);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float) (z >> 40) * (2.f / 16777216.f) - 1.f; // 24 random bits -> [-1, 1)
}

// out[i] = bf16(scale * u_i), u_i uniform in [-1, 1): random weights of a synthetic model made on the device.
extern "C" __global__ void fill_random_bf16(u16* out, i64 n, unsigned int seed, float scale) {
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        out[i] = f32_to_bf16(scale * uniform_pm1(i, seed));
    }
}

// out[i] = center + scale * u_i (norm weights of a synthetic model: near 1).
extern "C" __global__ void fill_random_f32(float* out, i64 n, unsigned int seed, float center, float scale) {
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < n; i += (i64) gridDim.x * blockDim.x) {
        out[i] = center + scale * uniform_pm1(i, seed);
    }
}
