// Attention over per-sequence KV caches, for a batch of tokens from several sequences (continuous batching:
// prefill chunks and decode steps together). Each sequence of the pass has its own cache for this layer,
// [cap][kv_heads][head_dim] keys and the same for values, found through per-pass tables: k_ptr[s] and v_ptr[s]
// (device addresses) and cap[s] (slots). Two element types, one kernel pair each: IEEE halves (kv_store_f16 /
// attention_f16, the default, as the CPU engine's f16 cache and the operator's sizing at 2 bytes per value) and f32
// (kv_store / attention). Halves are rounded to nearest even when stored (f32_to_f16, cvt.rn.f16.f32's rounding)
// and widened exactly when read (f16_to_f32). A step's own keys and values are stored before its attention runs and
// read back from the cache like every other position, so a position is read at the same precision whichever step
// wrote it: a prompt attended in chunks, or after a cached prefix, gives the same bits as in one pass. Position p of a sequence lives in slot p % cap. Global layers have
// cap >= the sequence's capacity (slot = position); sliding-window layers a ring of cap >= window + the longest
// chunk - 1 slots (plus spare slots for rewinds), so they do not pay for the full context (vLLM #11938).
// The tables live in device memory at addresses fixed for the engine's life, so a captured CUDA graph stays valid
// while their contents change from step to step.
#include "common.cuh"

#define ATTN_WARPS 4
#define ATTN_MAX_HEAD_DIM 256

// One element of a cache, as stored (f32, or IEEE half bits) and as attention reads it.
__device__ __forceinline__ void kv_put(float* c, i64 i, float x) { c[i] = x; }
__device__ __forceinline__ void kv_put(u16* c, i64 i, float x) { c[i] = f32_to_f16(x); }
__device__ __forceinline__ float kv_get(const float* c, i64 i) { return c[i]; }
__device__ __forceinline__ float kv_get(const u16* c, i64 i) { return f16_to_f32(c[i]); }

// Writes the new tokens' keys and values into their sequences' caches, before attention reads them.
// k, v: [n_tok][width] f32 with width = kv_heads * head_dim; seq[t]: the token's sequence in the pass's tables.
// Grid: n_tok blocks; block: any (threads stride over width).
template <typename KV>
__device__ __forceinline__ void kv_store_impl(const float* k, const float* v, const i64* k_ptr, const i64* v_ptr,
                                              const int* cap, const int* seq, const int* pos, int width) {
    int t = blockIdx.x;
    int s = seq[t];
    KV* kc = (KV*) k_ptr[s];
    KV* vc = (KV*) v_ptr[s];
    i64 dst = (i64) (pos[t] % cap[s]) * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        kv_put(kc, dst + i, k[(i64) t * width + i]);
        kv_put(vc, dst + i, v[(i64) t * width + i]);
    }
}

extern "C" __global__ void kv_store(const float* k, const float* v, const i64* k_ptr, const i64* v_ptr,
                                    const int* cap, const int* seq, const int* pos, int width) {
    kv_store_impl<float>(k, v, k_ptr, v_ptr, cap, seq, pos, width);
}

extern "C" __global__ void kv_store_f16(const float* k, const float* v, const i64* k_ptr, const i64* v_ptr,
                                        const int* cap, const int* seq, const int* pos, int width) {
    kv_store_impl<u16>(k, v, k_ptr, v_ptr, cap, seq, pos, width);
}

// out[t][h] = sum_p softmax_p(s_p) v_p over the positions p that token t (sequence seq[t], position pos[t]) sees:
// p <= pos[t] (causal) and, when window > 0, p > pos[t] - window (sliding window; FACTS: a missing window mask made
// Gemma 2 repeat after 4k tokens). s_p = q.k_p * scale, then soft-capped when softcap > 0 (Gemma 2:
// 50 * tanh(s / 50)), before the mask and the softmax. Grouped-query: head h reads kv head h / (heads / kv_heads).
// q, out: [n_tok][heads][head_dim], head_dim a multiple of 32 and <= 256.
// Grid: (heads, n_tok); block: 128 threads = 4 warps. Each warp walks every 4th position with an online softmax
// (running max, running sum, running weighted sum; lane owns dims lane, lane + 32, ...); the 4 partial results are
// merged through shared memory at the end, so any context length works with fixed shared memory.
template <typename KV>
__device__ __forceinline__ void attention_impl(const float* q, const i64* k_ptr, const i64* v_ptr,
                                               const int* cap_of, float* out, const int* seq, const int* pos,
                                               int heads, int kv_heads, int head_dim, int window, float scale,
                                               float softcap) {
    __shared__ float sm_m[ATTN_WARPS];
    __shared__ float sm_l[ATTN_WARPS];
    __shared__ float sm_acc[ATTN_WARPS][ATTN_MAX_HEAD_DIM];
    int h = blockIdx.x, t = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int per_lane = head_dim >> 5;
    int kvh = h / (heads / kv_heads);
    int p_end = pos[t];
    int p_start = window > 0 ? max(0, p_end - window + 1) : 0;
    int width = kv_heads * head_dim;
    int s_idx = seq[t];
    int cap = cap_of[s_idx];
    const KV* kc = (const KV*) k_ptr[s_idx] + (i64) kvh * head_dim;
    const KV* vc = (const KV*) v_ptr[s_idx] + (i64) kvh * head_dim;
    const float* qv = q + ((i64) t * heads + h) * head_dim;

    float qr[ATTN_MAX_HEAD_DIM / 32];
    float acc[ATTN_MAX_HEAD_DIM / 32];
#pragma unroll
    for (int j = 0; j < ATTN_MAX_HEAD_DIM / 32; j++) {
        qr[j] = j < per_lane ? qv[lane + 32 * j] : 0.f;
        acc[j] = 0.f;
    }
    float m = NEG_INF, l = 0.f;
    for (int p = p_start + warp; p <= p_end; p += ATTN_WARPS) {
        i64 slot = (i64) (p % cap) * width;
        float s = 0.f;
#pragma unroll
        for (int j = 0; j < ATTN_MAX_HEAD_DIM / 32; j++) {
            if (j < per_lane) s += qr[j] * kv_get(kc, slot + lane + 32 * j);
        }
        s = warp_sum(s) * scale;
        if (softcap > 0.f) s = softcap * tanhf(s / softcap);
        float m_new = fmaxf(m, s);
        float corr = expf(m - m_new); // exp(-inf) = 0 on the first position
        float e = expf(s - m_new);
        l = l * corr + e;
#pragma unroll
        for (int j = 0; j < ATTN_MAX_HEAD_DIM / 32; j++) {
            if (j < per_lane) acc[j] = acc[j] * corr + e * kv_get(vc, slot + lane + 32 * j);
        }
        m = m_new;
    }
    if (lane == 0) {
        sm_m[warp] = m;
        sm_l[warp] = l;
    }
#pragma unroll
    for (int j = 0; j < ATTN_MAX_HEAD_DIM / 32; j++) {
        if (j < per_lane) sm_acc[warp][lane + 32 * j] = acc[j];
    }
    __syncthreads();
    float mg = sm_m[0];
    for (int w = 1; w < ATTN_WARPS; w++) mg = fmaxf(mg, sm_m[w]);
    float lg = 0.f;
    for (int w = 0; w < ATTN_WARPS; w++) lg += sm_l[w] == 0.f ? 0.f : sm_l[w] * expf(sm_m[w] - mg);
    float* o = out + ((i64) t * heads + h) * head_dim;
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float v = 0.f;
        for (int w = 0; w < ATTN_WARPS; w++) {
            if (sm_l[w] != 0.f) v += sm_acc[w][d] * expf(sm_m[w] - mg);
        }
        o[d] = v / lg;
    }
}

extern "C" __global__ void attention(const float* q, const i64* k_ptr, const i64* v_ptr, const int* cap_of,
                                     float* out, const int* seq, const int* pos, int heads, int kv_heads,
                                     int head_dim, int window, float scale, float softcap) {
    attention_impl<float>(q, k_ptr, v_ptr, cap_of, out, seq, pos, heads, kv_heads, head_dim, window, scale, softcap);
}

extern "C" __global__ void attention_f16(const float* q, const i64* k_ptr, const i64* v_ptr, const int* cap_of,
                                         float* out, const int* seq, const int* pos, int heads, int kv_heads,
                                         int head_dim, int window, float scale, float softcap) {
    attention_impl<u16>(q, k_ptr, v_ptr, cap_of, out, seq, pos, heads, kv_heads, head_dim, window, scale, softcap);
}
