// Shared device helpers for every kernel: 16-bit float conversions, GGML block dequantization of one element,
// warp reductions. Plain CUDA C++ with no toolkit headers, so NVRTC compiles it anywhere (no cuda_fp16.h needed).
// Type ids are GGML's (TensorType.ggmlId); block layouts follow ggml-common.h.
#pragma once

typedef unsigned char u8;
typedef signed char i8;
typedef unsigned short u16;
typedef long long i64;

#define NEG_INF __int_as_float(0xff800000) // no math.h under NVRTC

#define GGML_F32 0
#define GGML_F16 1
#define GGML_Q4_0 2
#define GGML_Q5_0 6
#define GGML_Q8_0 8
#define GGML_Q4_K 12
#define GGML_Q6_K 14
#define GGML_BF16 30

// IEEE half -> float, exact for every input, in plain C++ (no inline PTX, so the kernels also compile for the host
// tests' CUDA emulation): the 15 exponent+mantissa bits shifted into a float's place give the value scaled by
// 2^-112, which one multiplication by 2^112 undoes exactly, subnormal halves included (needs denormals kept, as
// without --use_fast_math / -ftz); Inf and NaN keep an all-ones exponent.
__device__ __forceinline__ float f16_to_f32(u16 h) {
    unsigned int em = (unsigned int) (h & 0x7fff) << 13;
    float f = em >= (0x7c00u << 13) ? __uint_as_float(em | 0x7f800000u) : __uint_as_float(em) * 0x1p112f;
    return __uint_as_float(__float_as_uint(f) | ((unsigned int) (h & 0x8000) << 16));
}

// float -> IEEE half, round to nearest even (as cvt.rn.f16.f32), in plain C++ like f16_to_f32. Magnitudes from
// 65520 up become Inf, NaN a quiet NaN. Normal halves: rebias the exponent and round the 13 dropped bits with the
// carry into the exponent doing the right thing; below 2^-14 one float addition of 0.5 rounds to the subnormal
// grid (its ulp is 2^-24, the smallest half's), which needs denormals kept, as f16_to_f32 does.
__device__ __forceinline__ u16 f32_to_f16(float f) {
    unsigned int u = __float_as_uint(f);
    unsigned int sign = (u >> 16) & 0x8000u;
    unsigned int a = u & 0x7fffffffu;
    unsigned int h;
    if (a >= 0x47800000u) {            // >= 65536, Inf or NaN
        h = a > 0x7f800000u ? 0x7e00u : 0x7c00u;
    } else if (a < 0x38800000u) {      // < 2^-14: subnormal half or zero
        h = __float_as_uint(__uint_as_float(a) + 0.5f) - 0x3f000000u;
    } else {
        h = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13; // 0x38000000: exponent bias 127 -> 15
    }
    return (u16) (sign | h);
}

__device__ __forceinline__ float bf16_to_f32(u16 h) {
    return __uint_as_float(((unsigned int) h) << 16);
}

// Round to nearest even, NaN kept quiet (same rounding as torch and ggml).
__device__ __forceinline__ u16 f32_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (u16) ((u >> 16) | 0x40);
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    return (u16) (u >> 16);
}

__device__ __forceinline__ u16 load_u16(const u8* p) {
    return (u16) (p[0] | (p[1] << 8)); // little-endian, no alignment assumption
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Q4_K / Q5_K packed 6-bit scale and min of sub-block j (0..7), ggml's get_scale_min_k4.
__device__ __forceinline__ void scale_min_k4(int j, const u8* q, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Element e of a row stored in GGML type `type`, starting at `row` (the row's first block).
__device__ __forceinline__ float dequant_elem(int type, const u8* row, int e) {
    switch (type) {
    case GGML_F32:
        return ((const float*) row)[e];
    case GGML_F16:
        return f16_to_f32(load_u16(row + 2 * e));
    case GGML_BF16:
        return bf16_to_f32(load_u16(row + 2 * e));
    case GGML_Q8_0: { // {f16 d; i8 qs[32]} = 34 bytes; x = d * q
        const u8* b = row + (e >> 5) * 34;
        return f16_to_f32(load_u16(b)) * (float) ((const i8*) (b + 2))[e & 31];
    }
    case GGML_Q4_0: { // {f16 d; u8 qs[16]} = 18 bytes; low nibbles are elements 0..15, high 16..31; x = d * (q - 8)
        const u8* b = row + (e >> 5) * 18;
        int j = e & 31;
        int q = j < 16 ? (b[2 + j] & 0xF) : (b[2 + j - 16] >> 4);
        return f16_to_f32(load_u16(b)) * (float) (q - 8);
    }
    case GGML_Q5_0: { // {f16 d; u8 qh[4]; u8 qs[16]} = 22 bytes; bit j of qh is bit 4 of element j; x = d * (q - 16)
        const u8* b = row + (e >> 5) * 22;
        int j = e & 31;
        unsigned int qh = b[2] | (b[3] << 8) | (b[4] << 16) | ((unsigned int) b[5] << 24);
        int nib = j < 16 ? (b[6 + j] & 0xF) : (b[6 + j - 16] >> 4);
        int q = nib | (((qh >> j) & 1) << 4);
        return f16_to_f32(load_u16(b)) * (float) (q - 16);
    }
    case GGML_Q4_K: { // {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} = 144 bytes per 256
        const u8* b = row + (e >> 8) * 144;
        int j = e & 255;
        int chunk = j >> 6;        // 64 elements share 32 bytes of qs
        int within = j & 63;       // < 32: low nibbles (sub-block 2*chunk), else high (2*chunk+1)
        int sub = 2 * chunk + (within >> 5);
        int sc, m;
        scale_min_k4(sub, b + 4, &sc, &m);
        u8 byte = b[16 + chunk * 32 + (within & 31)];
        int q = within < 32 ? (byte & 0xF) : (byte >> 4);
        return f16_to_f32(load_u16(b)) * (float) sc * (float) q - f16_to_f32(load_u16(b + 2)) * (float) m;
    }
    case GGML_Q6_K: { // {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d} = 210 bytes per 256
        const u8* b = row + (e >> 8) * 210;
        int j = e & 255;
        int half = j >> 7;         // two halves of 128
        int w = j & 127;
        int quad = w >> 5;         // 0..3: which 32-element quarter of the half
        int l = w & 31;
        const u8* ql = b + half * 64;
        const u8* qh = b + 128 + half * 32;
        const i8* sc = (const i8*) (b + 192) + half * 8;
        u8 lo = ql[l + (quad & 1) * 32];
        int nib = quad < 2 ? (lo & 0xF) : (lo >> 4);
        int q = (nib | (((qh[l] >> (2 * quad)) & 3) << 4)) - 32;
        return f16_to_f32(load_u16(b + 208)) * (float) sc[(l >> 4) + 2 * quad] * (float) q;
    }
    default:
        return __int_as_float(0x7fc00000); // NaN: an unsupported type must not pass silently
    }
}
