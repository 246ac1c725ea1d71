// Attention over a paged-by-sequence KV cache, for a batch of tokens from several sequences (continuous batching:
// prefill chunks and decode steps together). One layer's cache is [max_seqs][cap][kv_heads][head_dim] f32 for keys
// and the same for values; position p of a sequence lives in slot p % cap. Global layers have cap = max context;
// sliding-window layers a ring of cap >= window + prefill chunk - 1 slots (only the window is ever read), so they
// do not pay for the full context (vLLM #11938).
#include "common.cuh"

#define ATTN_WARPS 4
#define ATTN_MAX_HEAD_DIM 256

// Writes the new tokens' keys and values into the cache. k, v: [n_tok][kv_heads][head_dim].
// Grid: n_tok blocks; block: any (threads stride over kv_heads * head_dim).
extern "C" __global__ void kv_store(const float* k, const float* v, float* k_cache, float* v_cache,
                                    const int* seq, const int* pos, int kv_heads, int head_dim, int cap) {
    int t = blockIdx.x;
    int width = kv_heads * head_dim;
    i64 dst = ((i64) seq[t] * cap + pos[t] % cap) * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        k_cache[dst + i] = k[(i64) t * width + i];
        v_cache[dst + i] = v[(i64) t * width + i];
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
extern "C" __global__ void attention(const float* q, const float* k_cache, const float* v_cache, float* out,
                                     const int* seq, const int* pos, int heads, int kv_heads, int head_dim, int cap,
                                     int window, float scale, float softcap) {
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
    const float* kc = k_cache + (i64) seq[t] * cap * width + (i64) kvh * head_dim;
    const float* vc = v_cache + (i64) seq[t] * cap * width + (i64) kvh * head_dim;
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
