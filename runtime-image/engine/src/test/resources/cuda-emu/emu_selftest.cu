// Kernels that test the CUDA emulation itself (CudaEmulatorTest): what it must compute and what it must refuse.
#include "common.cuh"

// out[t * 5 + k]: thread t's result of five shuffles of its own index (block of 64: two warps).
extern "C" __global__ void shuffles(int* out) {
    int t = threadIdx.x;
    out[t * 5 + 0] = __shfl_xor_sync(0xffffffffu, t, 1);
    out[t * 5 + 1] = __shfl_xor_sync(0xffffffffu, t, 16);
    out[t * 5 + 2] = __shfl_down_sync(0xffffffffu, t, 3);
    out[t * 5 + 3] = __shfl_up_sync(0xffffffffu, t, 5);
    out[t * 5 + 4] = __shfl_sync(0xffffffffu, t, 7);
}

// out[b] = sum of x[b * 256 .. +256) by a shared-memory tree (block of 256); *count += 1 per thread (atomics).
extern "C" __global__ void block_sum(const float* x, float* out, int* count) {
    __shared__ float s[256];
    int t = threadIdx.x;
    s[t] = x[blockIdx.x * 256 + t];
    __syncthreads();
    for (int stride = 128; stride > 0; stride >>= 1) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
    atomicAdd(count, 1);
}

// Half the block returns, the other half waits at a barrier: undefined in CUDA, an error here.
extern "C" __global__ void sync_after_return(float* out) {
    if (threadIdx.x >= 16) return;
    __syncthreads();
    out[threadIdx.x] = 1.f;
}

// Lanes 0-15 wait at a barrier, lanes 16-31 of the same warp at a shuffle: neither can complete.
extern "C" __global__ void diverged_barrier(float* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        out[threadIdx.x] = warp_sum(1.f);
    }
}

// Block 0 writes all 64 shared slots, block 1 only the first 32; both read all 64.
extern "C" __global__ void read_shared_unwritten(float* out) {
    __shared__ float s[64];
    int t = threadIdx.x;
    if (blockIdx.x == 0 || t < 32) s[t] = (float) t;
    __syncthreads();
    out[blockIdx.x * 64 + t] = s[t];
}

// Reads a slot another thread writes, without the barrier between.
extern "C" __global__ void missing_barrier(float* out) {
    __shared__ float s[64];
    int t = threadIdx.x;
    s[t] = (float) t;
    out[t] = s[63 - t];
}
