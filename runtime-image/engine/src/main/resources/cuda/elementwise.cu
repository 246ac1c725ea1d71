// Element-wise kernels: GeGLU with tanh-approximated GELU, residual add, soft-capping, f32 -> bf16.
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
