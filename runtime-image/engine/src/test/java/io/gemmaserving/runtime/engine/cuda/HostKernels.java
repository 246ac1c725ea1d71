package io.gemmaserving.runtime.engine.cuda;

/**
 * Test support for {@link HostCuda}: each kernel of /cuda/*.cu re-implemented from its contract, reading and writing
 * the emulated device memory. Grids are checked where a kernel's coverage depends on them (one block per row or
 * token), since a wrong grid would leave rows unwritten on a GPU.
 */
final class HostKernels {

    private HostKernels() {
    }

    static void run(HostCuda d, String name, int gx, int gy, Object[] a) {
        switch (name) {
            case "embed" -> embed(d, gx, a);
            case "rmsnorm" -> rmsnorm(d, gx, a);
            case "matvec" -> matvec(d, gx, gy, (long) a[0], (int) a[1], (long) a[2], (int) a[3], (int) a[4],
                    (long) a[5], (long) a[6], (int) a[7]);
            case "matvec_bf16" -> matvec(d, gx, gy, (long) a[0], 30, 2L * (int) a[2], (int) a[1], (int) a[2],
                    (long) a[3], (long) a[4], (int) a[5]);
            case "dequant_bf16" -> dequantBf16(d, a);
            case "rope_neox" -> rope(d, gx, a);
            case "kv_store" -> kvStore(d, gx, a, false);
            case "kv_store_f16" -> kvStore(d, gx, a, true);
            case "attention" -> attention(d, gx, gy, a, false);
            case "attention_f16" -> attention(d, gx, gy, a, true);
            case "geglu" -> {
                long gate = (long) a[0], up = (long) a[1], out = (long) a[2], n = (long) a[3];
                for (long i = 0; i < n; i++) {
                    double x = d.f(gate, i);
                    double g = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
                    d.setF(out, i, (float) (g * d.f(up, i)));
                }
            }
            case "add_inplace" -> {
                long x = (long) a[0], y = (long) a[1], n = (long) a[2];
                for (long i = 0; i < n; i++) {
                    d.setF(x, i, d.f(x, i) + d.f(y, i));
                }
            }
            case "softcap" -> {
                long x = (long) a[0], n = (long) a[1];
                float cap = (float) a[2];
                if (cap > 0) {
                    for (long i = 0; i < n; i++) {
                        d.setF(x, i, (float) (cap * Math.tanh(d.f(x, i) / cap)));
                    }
                }
            }
            case "to_bf16" -> {
                long x = (long) a[0], out = (long) a[1], n = (long) a[2];
                for (long i = 0; i < n; i++) {
                    d.setU16(out, i, bf16(d.f(x, i)));
                }
            }
            case "to_f16" -> {
                long x = (long) a[0], out = (long) a[1], n = (long) a[2];
                for (long i = 0; i < n; i++) {
                    d.setU16(out, i, Float.floatToFloat16(d.f(x, i)));
                }
            }
            case "gather_rows" -> {
                long x = (long) a[0], rows = (long) a[1], out = (long) a[2];
                int cols = (int) a[3];
                for (int r = 0; r < gx; r++) {
                    int src = d.i32(rows, r);
                    for (int c = 0; c < cols; c++) {
                        d.setF(out, (long) r * cols + c, d.f(x, (long) src * cols + c));
                    }
                }
            }
            case "fill_random_bf16" -> {
                long out = (long) a[0], n = (long) a[1];
                int seed = (int) a[2];
                float scale = (float) a[3];
                for (long i = 0; i < n; i++) {
                    d.setU16(out, i, bf16(scale * uniform(i, seed)));
                }
            }
            case "fill_random_f32" -> {
                long out = (long) a[0], n = (long) a[1];
                int seed = (int) a[2];
                float center = (float) a[3], scale = (float) a[4];
                for (long i = 0; i < n; i++) {
                    d.setF(out, i, center + scale * uniform(i, seed));
                }
            }
            default -> throw new AssertionError("kernel " + name + " is not emulated");
        }
    }

    /** elementwise.cu's uniform_pm1: splitmix64's finalizer of (i, seed), 24 bits to [-1, 1). */
    static float uniform(long i, int seed) {
        long z = i * 0x9E3779B97F4A7C15L + ((seed & 0xffffffffL) << 32);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (float) (z >>> 40) * (2f / 16777216f) - 1f;
    }

    static short bf16(float f) {
        int u = Float.floatToRawIntBits(f);
        u += 0x7fff + ((u >>> 16) & 1);
        return (short) (u >>> 16);
    }

    private static void embed(HostCuda d, int n, Object[] a) {
        long table = (long) a[0], tokens = (long) a[5], out = (long) a[7];
        int type = (int) a[1], vocab = (int) a[3], cols = (int) a[4];
        long rowBytes = (long) a[2];
        float scale = (float) a[6];
        for (int t = 0; t < n; t++) {
            int tok = d.i32(tokens, t);
            float[] row = tok >= 0 && tok < vocab ? d.row(table, type, rowBytes, tok, cols) : null;
            for (int c = 0; c < cols; c++) {
                d.setF(out, (long) t * cols + c, row == null ? Float.NaN : row[c] * scale);
            }
        }
    }

    private static void rmsnorm(HostCuda d, int rows, Object[] a) {
        long x = (long) a[0], w = (long) a[1], out = (long) a[2];
        int dim = (int) a[3], plusOne = (int) a[5];
        float eps = (float) a[4];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) {
                double v = d.f(x, (long) r * dim + i);
                ss += v * v;
            }
            double inv = 1 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) {
                float g = plusOne != 0 ? 1 + d.f(w, i) : d.f(w, i);
                d.setF(out, (long) r * dim + i, (float) (d.f(x, (long) r * dim + i) * inv * g));
            }
        }
    }

    private static void matvec(HostCuda d, int gx, int gy, long w, int type, long rowBytes, int rows, int cols,
                               long x, long out, int batch) {
        if ((long) gx * 4 < rows || (long) gy * Kernels.MATVEC_BATCH < batch) {
            throw new AssertionError("matvec grid " + gx + "x" + gy + " does not cover " + rows + " rows x " + batch);
        }
        for (int r = 0; r < rows; r++) {
            float[] wr = d.row(w, type, rowBytes, r, cols);
            for (int b = 0; b < batch; b++) {
                double acc = 0;
                for (int c = 0; c < cols; c++) {
                    acc += (double) wr[c] * d.f(x, (long) b * cols + c);
                }
                d.setF(out, (long) b * rows + r, (float) acc);
            }
        }
    }

    private static void dequantBf16(HostCuda d, Object[] a) {
        long w = (long) a[0], rowBytes = (long) a[2], out = (long) a[6];
        int type = (int) a[1], row0 = (int) a[3], rows = (int) a[4], cols = (int) a[5];
        for (int r = 0; r < rows; r++) {
            float[] row = d.row(w, type, rowBytes, row0 + r, cols);
            for (int c = 0; c < cols; c++) {
                d.setU16(out, (long) r * cols + c, bf16(row[c]));
            }
        }
    }

    private static void rope(HostCuda d, int blocks, Object[] a) {
        long x = (long) a[0], pos = (long) a[1];
        int heads = (int) a[2], hd = (int) a[3];
        float base = (float) a[4], scale = (float) a[5];
        int half = hd / 2;
        for (int b = 0; b < blocks; b++) {
            double p = d.i32(pos, b / heads) / (double) scale;
            long v = (long) b * hd;
            for (int i = 0; i < half; i++) {
                double th = p * Math.pow(base, -2.0 * i / hd);
                double x0 = d.f(x, v + i), x1 = d.f(x, v + i + half);
                d.setF(x, v + i, (float) (x0 * Math.cos(th) - x1 * Math.sin(th)));
                d.setF(x, v + i + half, (float) (x0 * Math.sin(th) + x1 * Math.cos(th)));
            }
        }
    }

    /** f32 caches, or IEEE half bits rounded to nearest even ({@code half}). */
    private static void kvStore(HostCuda d, int n, Object[] a, boolean half) {
        long k = (long) a[0], v = (long) a[1], kPtr = (long) a[2], vPtr = (long) a[3], cap = (long) a[4];
        long seq = (long) a[5], pos = (long) a[6];
        int width = (int) a[7];
        for (int t = 0; t < n; t++) {
            int s = d.i32(seq, t);
            long slot = d.i32(pos, t) % d.i32(cap, s);
            long kc = d.i64(kPtr, s), vc = d.i64(vPtr, s);
            for (int i = 0; i < width; i++) {
                float kx = d.f(k, (long) t * width + i), vx = d.f(v, (long) t * width + i);
                if (half) {
                    d.setU16(kc, slot * width + i, Float.floatToFloat16(kx));
                    d.setU16(vc, slot * width + i, Float.floatToFloat16(vx));
                } else {
                    d.setF(kc, slot * width + i, kx);
                    d.setF(vc, slot * width + i, vx);
                }
            }
        }
    }

    private static void attention(HostCuda d, int heads, int n, Object[] a, boolean half) {
        long q = (long) a[0], kPtr = (long) a[1], vPtr = (long) a[2], capOf = (long) a[3], out = (long) a[4];
        long seq = (long) a[5], pos = (long) a[6];
        int nHeads = (int) a[7], kvHeads = (int) a[8], hd = (int) a[9], window = (int) a[10];
        float scale = (float) a[11], softcap = (float) a[12];
        if (heads != nHeads) {
            throw new AssertionError("attention grid.x " + heads + " != heads " + nHeads);
        }
        int width = kvHeads * hd;
        for (int t = 0; t < n; t++) {
            int s = d.i32(seq, t);
            int cap = d.i32(capOf, s);
            long kc = d.i64(kPtr, s), vc = d.i64(vPtr, s);
            int end = d.i32(pos, t);
            int start = window > 0 ? Math.max(0, end - window + 1) : 0;
            for (int h = 0; h < nHeads; h++) {
                int kvh = h / (nHeads / kvHeads);
                double[] sc = new double[end - start + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = start; p <= end; p++) {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) {
                        dot += (double) d.f(q, ((long) t * nHeads + h) * hd + i)
                                * kv(d, kc, (long) (p % cap) * width + (long) kvh * hd + i, half);
                    }
                    dot *= scale;
                    if (softcap > 0) {
                        dot = softcap * Math.tanh(dot / softcap);
                    }
                    sc[p - start] = dot;
                    max = Math.max(max, dot);
                }
                double sum = 0;
                for (int j = 0; j < sc.length; j++) {
                    sc[j] = Math.exp(sc[j] - max);
                    sum += sc[j];
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int p = start; p <= end; p++) {
                        acc += sc[p - start] * kv(d, vc, (long) (p % cap) * width + (long) kvh * hd + i, half);
                    }
                    d.setF(out, ((long) t * nHeads + h) * hd + i, (float) (acc / sum));
                }
            }
        }
    }

    private static float kv(HostCuda d, long cache, long i, boolean half) {
        return half ? Float.float16ToFloat(d.u16(cache, i)) : d.f(cache, i);
    }
}
