// Attention over per-sequence KV caches, for a batch of tokens from several sequences (continuous batching:
// prefill chunks and decode steps together). Each sequence of the pass has its own cache for this layer,
// [cap][kv_heads][head_dim] f32 keys and the same for values, found through per-pass tables: k_ptr[s] and v_ptr[s]
// (device addresses) and cap[s] (slots). Position p of a sequence lives in slot p % cap. Global layers have
// cap >= the sequence's capacity (slot = position); sliding-window layers a ring of cap >= window + the longest
// chunk - 1 slots (plus spare slots for rewinds), so they do not pay for the full context (vLLM #11938).
// The tables live in device memory at addresses fixed for the engine's life, so a captured CUDA graph stays valid
// while their contents change from step to step.
#include "common.cuh"

#define ATTN_WARPS 4
#define ATTN_MAX_HEAD_DIM 256

// Writes the new tokens' keys and values into their sequences' caches, before attention reads them.
// k, v: [n_tok][width] with width = kv_heads * head_dim; seq[t]: the token's sequence in the pass's tables.
// Grid: n_tok blocks; block: any (threads stride over width).
extern "C" __global__ void kv_store(const float* k, const float* v, const i64* k_ptr, const i64* v_ptr,
                                    const int* cap, const int* seq, const int* pos, int width) {
    int t = blockIdx.x;
    int s = seq[t];
    float* kc = (float*) k_ptr[s];
    float* vc = (float*) v_ptr[s];
    i64 dst = (i64) (pos[t] % cap[s]) * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        kc[dst + i] = k[(i64) t * width + i];
        vc[dst + i] = v[(i64) t * width + i];
    }
}

// out[t][h] = sum_p softmax_p(s_p) v_p over the positions p that token t (sequence seq[t], position pos[t]) sees:
// p <= pos[t] (causal) and, when window > 0, p > pos[t] - window (sliding window; FACTS: a missing window mask made
// Gemma 2 repeat after 4k tokens). s_p = q.k_p * scale, then soft-capped when softcap > 0 (Gemma 2:
// 50 * tanh(s / 50)), before the mask and the softmax. Grouped-query: head h reads kv head h / (heads / kv_heads).
// q, out: [n_tok][heads][head_dim], head_dim a multiple of 32 and <= 256.
// Grid: (heads, n_tok); block: 128 threads = 4 warps. Each warp walks every 4th position with an online softmax
// (running max, running sum, running weighted sum; lane owns dims lane, lane + 32, ...); the 4 partial results are
// merged through shared memory at the end, so any context length works with fixed shared memory.
extern "C" __global__ void attention(const float* q, const i64* k_ptr, const i64* v_ptr, const int* cap_of,
                                     float* out, const int* seq, const int* pos, int heads, int kv_heads,
                                     int head_dim, int window, float scale, float softcap) {
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
    const float* kc = (const float*) k_ptr[s_idx] + (i64) kvh * head_dim;
    const float* vc = (const float*) v_ptr[s_idx] + (i64) kvh * head_dim;
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
            if (j < per_lane) s += qr[j] * kc[slot + lane + 32 * j];
        }
        s = warp_sum(s) * scale;
        if (softcap > 0.f) s = softcap * tanhf(s / softcap);
        float m_new = fmaxf(m, s);
        float corr = expf(m - m_new); // exp(-inf) = 0 on the first position
        float e = expf(s - m_new);
        l = l * corr + e;
#pragma unroll
        for (int j = 0; j < ATTN_MAX_HEAD_DIM / 32; j++) {
            if (j < per_lane) acc[j] = acc[j] * corr + e * vc[slot + lane + 32 * j];
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
