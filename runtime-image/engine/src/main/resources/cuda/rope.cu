// NeoX-style (half-split) rotary embedding, in place: for i < head_dim / 2, the pair (x[i], x[i + head_dim/2])
// rotates by theta = (pos / scale) * base^(-2i / head_dim). `base` is per layer (Gemma 3: 10k local, 1M global);
// `scale` is linear RoPE scaling (1 = off; Gemma 3 4B+ global layers use 8).
// x: [n_tok x heads x head_dim]; pos: [n_tok]. Grid: n_tok * heads blocks; block: head_dim / 2 threads (<= 1024).
#include "common.cuh"

extern "C" __global__ void rope_neox(float* x, const int* pos, int heads, int head_dim, float base, float scale) {
    int t = blockIdx.x / heads;
    float* v = x + (i64) blockIdx.x * head_dim;
    int half = head_dim >> 1;
    float p = (float) pos[t] / scale;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float freq = powf(base, -2.f * (float) i / (float) head_dim);
        float s, c;
        sincosf(p * freq, &s, &c);
        float x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x0 * s + x1 * c;
    }
}
