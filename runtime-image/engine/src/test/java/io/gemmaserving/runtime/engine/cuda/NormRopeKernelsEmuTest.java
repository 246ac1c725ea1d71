package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Args;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Dim;
import io.gemmaserving.runtime.engine.model.ReferenceOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.floats;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.ints;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.nans;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.toFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * norm.cu and rope.cu on the CUDA emulation against the model's Java reference: RMSNorm against
 * {@code GemmaModel.rmsNorm} (block norms over the hidden size and Gemma 3's per-head QK-norm), RoPE against the
 * model's NeoX rotation with its float32 angles (the {@code Numerics.F32} path of {@code GemmaModel.fillRope}).
 * Launched through the product's {@link Kernels} (rmsnorm's {@code plus_one}, which it never sets, directly).
 */
@Tag("unit")
class NormRopeKernelsEmuTest {

    static final List<String> KERNELS = List.of("rmsnorm", "rope_neox");
    static final double U = 0x1p-24;

    private CudaEmulator emu;

    @BeforeEach
    void emulator() {
        emu = CudaEmulator.get();
        assumeTrue(emu != null, "CUDA emulation unavailable: " + CudaEmulator.unavailable());
    }

    /**
     * Relative bound per element: the kernel's sum of squares (positive terms) has at most {@code dim / 256 + 8}
     * roundings (per thread, then two 5-level shuffle trees), relative error halved by the square root; the
     * mean, eps, rsqrtf (2 ulp on CUDA) and the two products are at most 6 more; the reference (double sum, one
     * float scale, two products) 3: {@code ((dim / 256 + 8) / 2 + 9) u}, 12u of it as margin.
     */
    @ParameterizedTest(name = "dim {0}, rows {1}, plus_one {2}")
    @CsvSource({"640, 3, 0", "640, 2, 1", "2304, 2, 0", "256, 8, 0", "64, 12, 1"})
    void rmsnormMatchesTheModel(int dim, int rows, int plusOne) {
        Random rnd = new Random(dim * 31 + rows + plusOne);
        float[] x = new float[rows * dim], w = new float[dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextGaussian() * (1 + i / dim)); // rows of different scales
        }
        for (int i = 0; i < dim; i++) {
            w[i] = (float) (rnd.nextGaussian() * 0.5);
        }
        float eps = 1e-6f;
        float[] g = w.clone(); // the model's weights hold the +1 already where HF needs it
        if (plusOne == 1) {
            for (int i = 0; i < dim; i++) {
                g[i] = 1f + w[i];
            }
        }
        float[] want = new float[rows * dim];
        for (int r = 0; r < rows; r++) {
            ReferenceOps.rmsNorm(x, r * dim, want, r * dim, g, dim, eps);
        }
        double rel = ((dim / 256.0 + 8) / 2 + 9 + 12) * U;
        for (boolean inPlace : new boolean[] {false, true}) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment xs = floats(a, x);
                MemorySegment out = inPlace ? xs : nans(a, rows * dim);
                if (plusOne == 0) { // the product's launch (GGUF weights hold the +1 already)
                    emu.kernels().rmsnorm(null, xs.address(), floats(a, w).address(), out.address(), rows, dim, eps);
                } else {
                    emu.launch("rmsnorm", Dim.of(rows), Dim.of(256), new Args().ptr(xs).ptr(floats(a, w)).ptr(out)
                            .i32(dim).f32(eps).i32(plusOne));
                }
                float[] got = toFloats(out, rows * dim);
                for (int i = 0; i < rows * dim; i++) {
                    assertEquals(want[i], got[i], rel * Math.abs(want[i]), "row " + i / dim + " col " + i % dim
                            + (inPlace ? " in place" : ""));
                }
            }
        }
    }

    /**
     * The reference rotates by {@code pos * invFreq_i}, {@code invFreq_i = (float) base^(-2i/d) / scale}; the kernel
     * by {@code (pos / scale) * powf(base, -2i/d)}. The exponent's one rounding moves base^e by {@code ln(base) u}
     * relative, powf adds up to 4 ulp on CUDA, the casts and products 4 more on the two sides, so the angles differ
     * by at most {@code |theta| (ln(base) + 8) u}; sin and cos then differ by that plus 2 ulp each, and the rotated
     * pair adds 2 roundings: {@code |dx| <= (|x0| + |x1|) (|theta| (ln(base) + 8) u + 6u)}.
     */
    @ParameterizedTest(name = "head_dim {0}, heads {1}, base {2}, scale {3}")
    @CsvSource({"256, 4, 10000, 1", "256, 1, 1000000, 8", "64, 3, 10000, 1", "128, 2, 1000000, 1"})
    void ropeNeoxMatchesTheModel(int headDim, int heads, float base, float scale) {
        Random rnd = new Random(headDim + heads);
        int[] pos = {0, 1, 7, 100, 1023, 4095, 32767};
        int nTok = pos.length, half = headDim / 2;
        float[] x = new float[nTok * heads * headDim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = (float) (1.0 / Math.pow(base, (2.0 * i) / headDim)) / scale;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment xs = floats(a, x);
            emu.kernels().rope(null, xs.address(), ints(a, pos).address(), nTok, heads, headDim, base, scale);
            float[] got = toFloats(xs, x.length);
            for (int t = 0; t < nTok; t++) {
                for (int h = 0; h < heads; h++) {
                    int off = (t * heads + h) * headDim;
                    for (int i = 0; i < half; i++) {
                        float theta = pos[t] * invFreq[i];
                        float c = (float) Math.cos(theta), s = (float) Math.sin(theta);
                        float x0 = x[off + i], x1 = x[off + half + i];
                        double tol = (Math.abs(x0) + Math.abs(x1))
                                * (Math.abs(theta) * (Math.log(base) + 8) * U + 6 * U);
                        String at = "pos " + pos[t] + " head " + h + " pair " + i;
                        assertEquals(x0 * c - x1 * s, got[off + i], tol, at);
                        assertEquals(x0 * s + x1 * c, got[off + half + i], tol, at);
                    }
                }
            }
        }
    }
}
