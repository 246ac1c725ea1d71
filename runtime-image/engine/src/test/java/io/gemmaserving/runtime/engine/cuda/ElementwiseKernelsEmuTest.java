package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.backend.ScalarBackend;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Args;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Dim;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import java.math.BigDecimal;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.floats;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.toFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * elementwise.cu on the CUDA emulation against the engine's Java reference: GeGLU against {@link Backend#geglu}
 * (the scalar reference, in double), soft-capping against the model's {@code cap * tanh(x / cap)} in double,
 * the residual add exactly, bf16 and f16 rounding exactly against independent round-to-nearest-even, the row
 * gather exactly, the synthetic-weight fills exactly against the hash written again in Java. Each is launched
 * twice: through the product's {@link Kernels} (its grid), and directly on a grid of fewer threads than elements,
 * so that the grid-stride loops wrap.
 */
@Tag("unit")
class ElementwiseKernelsEmuTest {

    static final List<String> KERNELS = List.of("geglu", "add_inplace", "softcap", "to_bf16", "to_f16",
            "gather_rows", "fill_random_bf16", "fill_random_f32");
    static final double U = 0x1p-24;
    static final int N = 1000;
    static final Dim GRID = Dim.of(3);
    static final Dim BLOCK = Dim.of(64);

    private CudaEmulator emu;

    @BeforeEach
    void emulator() {
        emu = CudaEmulator.get();
        assumeTrue(emu != null, "CUDA emulation unavailable: " + CudaEmulator.unavailable());
    }

    /** Runs {@code check} after each of the two launches: the product's, then the small grid's. */
    private void twice(java.util.function.Consumer<Kernels> product, Args direct, String kernel, Runnable setUp,
                       Runnable check) {
        setUp.run();
        product.accept(emu.kernels());
        check.run();
        setUp.run();
        emu.launch(kernel, GRID, BLOCK, direct);
        check.run();
    }

    /** Gate values over [-12, 12] (GELU's cancellation region for negative inputs included), up values ~N(0, 1). */
    private static float[][] gateAndUp(Random rnd) {
        float[] gate = new float[N], up = new float[N];
        for (int i = 0; i < N; i++) {
            gate[i] = (float) (rnd.nextDouble() * 24 - 12);
            up[i] = (float) rnd.nextGaussian();
        }
        return new float[][] {gate, up};
    }

    /**
     * The kernel evaluates {@code 0.5 x (1 + t) up}, {@code t = tanhf(v)}, {@code v = k (x + 0.044715 x^3)}, in
     * float. v carries a relative error of at most 5 roundings, which moves t by {@code sech^2(v) |v| 5u}; tanhf
     * itself is within 2 ulp of t (CUDA's bound), at most 4u absolute, which {@code 1 + t}, near 0 for negative v,
     * does not shrink; {@code 1 + t} and the two products add 3 roundings, the reference's cast one. Hence
     * {@code 0.5 |x up| (sech^2(v) |v| 5u + 4u + (1 + t) 4u)} against the double-precision reference.
     */
    @Test
    void gegluMatchesTheScalarBackend() {
        float[][] gu = gateAndUp(new Random(11));
        float[] want = gu[0].clone();
        new ScalarBackend().geglu(want, gu[1], 0, N);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = floats(a, gu[0]), u = floats(a, gu[1]), out = CudaEmulator.nans(a, N);
            twice(k -> k.geglu(null, g.address(), u.address(), out.address(), N),
                    new Args().ptr(g).ptr(u).ptr(out).i64(N), "geglu", () -> out.fill((byte) 0xff), () -> {
                        float[] got = toFloats(out, N);
                        for (int i = 0; i < N; i++) {
                            double x = gu[0][i], v = 0.7978845608028654 * (x + 0.044715 * x * x * x);
                            double t = Math.tanh(v), sech2 = 1 - t * t;
                            double tol = 0.5 * Math.abs(x * gu[1][i])
                                    * (sech2 * Math.abs(v) * 5 * U + 4 * U + (1 + t) * 4 * U);
                            assertEquals(want[i], got[i], tol, "gate " + x + " up " + gu[1][i]);
                        }
                    });
        }
    }

    @Test
    void addInplaceIsTheFloatSum() {
        Random rnd = new Random(12);
        float[] x = new float[N], y = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) rnd.nextGaussian() * 100;
            y[i] = (float) rnd.nextGaussian();
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment xs = floats(a, x), ys = floats(a, y);
            twice(k -> k.addInPlace(null, xs.address(), ys.address(), N), new Args().ptr(xs).ptr(ys).i64(N),
                    "add_inplace", () -> MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, N), () -> {
                        float[] got = toFloats(xs, N);
                        for (int i = 0; i < N; i++) {
                            assertEquals(x[i] + y[i], got[i], 0f, "element " + i);
                        }
                    });
        }
    }

    /**
     * {@code cap * tanhf(x / cap)} in float: the division and the product one rounding each, tanhf within 2 ulp,
     * and an input error passes through tanh with at most its relative size ({@code z sech^2 z <= tanh z}), so
     * 5u relative (6u allowed) of the double reference the model uses. A cap of 0 leaves the values alone.
     */
    @Test
    void softcapMatchesTheModelsFormula() {
        Random rnd = new Random(13);
        float[] x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) (rnd.nextGaussian() * 60);
        }
        for (float cap : new float[] {30f, 50f, 0f}) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment xs = floats(a, x);
                twice(k -> k.softcap(null, xs.address(), N, cap), new Args().ptr(xs).i64(N).f32(cap), "softcap",
                        () -> MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, N), () -> {
                            float[] got = toFloats(xs, N);
                            for (int i = 0; i < N; i++) {
                                float want = cap > 0 ? (float) (cap * Math.tanh(x[i] / cap)) : x[i];
                                assertEquals(want, got[i], 6 * U * Math.abs(want), "x " + x[i] + " cap " + cap);
                            }
                        });
            }
        }
    }

    /** bf16 rounding is exact integer work: every value must round as IEEE nearest-even does, NaN stays NaN. */
    @Test
    void toBf16RoundsToNearestEven() {
        Random rnd = new Random(14);
        float[] x = new float[N];
        int[] special = {0x00000000, 0x80000000, 0x00000001, 0x007fffff, 0x3f808000, 0x3f818000, 0x3f808001,
            0xbf818000, 0x7f7fffff, 0xff7f8000, 0x7f7f7fff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc12345};
        for (int i = 0; i < N; i++) {
            x[i] = i < special.length ? Float.intBitsToFloat(special[i])
                    : (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(20) - 10));
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment xs = floats(a, x), out = a.allocate(2L * N, 256);
            twice(k -> k.toHalf(null, TensorType.BF16, xs.address(), out.address(), N), new Args().ptr(xs).ptr(out)
                    .i64(N), "to_bf16", () -> out.fill((byte) 0), () -> {
                        for (int i = 0; i < N; i++) {
                            int got = out.get(ValueLayout.JAVA_SHORT, 2L * i) & 0xffff;
                            if (Float.isNaN(x[i])) {
                                int bits = Float.floatToRawIntBits(x[i]);
                                assertEquals((bits >>> 16) & 0x8000, got & 0x8000, "NaN keeps its sign");
                                assertTrue((got & 0x7f80) == 0x7f80 && (got & 0x0040) != 0, "NaN "
                                        + Integer.toHexString(bits) + " -> quiet NaN, got " + Integer.toHexString(got));
                            } else {
                                assertEquals(bf16Bits(x[i]), got, "x " + x[i] + " ("
                                        + Integer.toHexString(Float.floatToRawIntBits(x[i])) + ")");
                            }
                        }
                    });
        }
    }

    /**
     * f16 rounding, exact against the JDK's {@link Float#floatToFloat16} (IEEE nearest-even): every half's upper
     * midpoint (a tie) and the floats one ulp either side of it, both signs, so every rounding decision, the
     * subnormal range, the overflow to infinity from 65520 and the specials.
     */
    @Test
    void toF16RoundsToNearestEven() {
        int n = 6 * 0x7c00 + 4;
        float[] x = new float[n];
        int m = 0;
        for (int h = 0; h < 0x7c00; h++) {
            float lo = Float.float16ToFloat((short) h);
            float hi = h == 0x7bff ? 65536f : Float.float16ToFloat((short) (h + 1));
            float mid = (float) (((double) lo + hi) / 2); // exact: halves have 11 significant bits
            for (float v : new float[] {mid, Math.nextDown(mid), Math.nextUp(mid)}) {
                x[m++] = v;
                x[m++] = -v;
            }
        }
        x[m++] = Float.POSITIVE_INFINITY;
        x[m++] = Float.NEGATIVE_INFINITY;
        x[m++] = Float.NaN;
        x[m++] = 1e30f;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment xs = floats(a, x), out = a.allocate(2L * n, 256);
            twice(k -> k.toHalf(null, TensorType.F16, xs.address(), out.address(), n), new Args().ptr(xs).ptr(out)
                    .i64(n), "to_f16", () -> out.fill((byte) 0), () -> {
                        for (int i = 0; i < n; i++) {
                            short got = out.get(ValueLayout.JAVA_SHORT, 2L * i);
                            short want = Float.floatToFloat16(x[i]);
                            if (Float.isNaN(x[i])) {
                                assertTrue(Float.isNaN(Float.float16ToFloat(got)), "NaN stays NaN");
                            } else {
                                assertEquals(want, got, "x " + x[i] + " (" + Integer.toHexString(
                                        Float.floatToRawIntBits(x[i])) + ")");
                            }
                        }
                    });
        }
    }

    @Test
    void gatherRowsCopiesTheChosenRows() {
        int cols = 300, rowsIn = 7;
        float[] x = new float[rowsIn * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = i;
        }
        int[] rows = {6, 0, 3, 3};
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = CudaEmulator.nans(a, rows.length * cols);
            emu.kernels().gatherRows(null, floats(a, x).address(), CudaEmulator.ints(a, rows).address(),
                    out.address(), rows.length, cols);
            float[] got = toFloats(out, rows.length * cols);
            for (int r = 0; r < rows.length; r++) {
                for (int c = 0; c < cols; c++) {
                    assertEquals(x[rows[r] * cols + c], got[r * cols + c], 0f, "row " + r + " col " + c);
                }
            }
        }
    }

    /** The fill's hash (splitmix64's finalizer of index and seed), written again from elementwise.cu's comment. */
    static float uniformPm1(long i, int seed) {
        long z = i * 0x9E3779B97F4A7C15L + ((seed & 0xffffffffL) << 32);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (float) (z >>> 40) * (2f / 16777216f) - 1f;
    }

    /**
     * Both fills give, for each index, the hash's value (the integer work is exact, and the float steps are the
     * same one or two roundings on both sides), whatever the grid: the product's and the small one agree.
     */
    @Test
    void randomFillsAreTheHashOfIndexAndSeedOnAnyGrid() {
        int seed = 0xC0FFEE01; // high bit set: the seed is unsigned in the kernel
        float scale = 0.02f, center = 1f;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment b = a.allocate(2L * N, 256), f = CudaEmulator.nans(a, N);
            twice(k -> k.fillRandomBf16(null, b.address(), N, seed, scale), new Args().ptr(b).i64(N).i32(seed)
                    .f32(scale), "fill_random_bf16", () -> b.fill((byte) 0), () -> {
                        for (int i = 0; i < N; i++) {
                            assertEquals(bf16Bits(scale * uniformPm1(i, seed)),
                                    b.get(ValueLayout.JAVA_SHORT, 2L * i) & 0xffff, "bf16 element " + i);
                        }
                    });
            twice(k -> k.fillRandomF32(null, f.address(), N, seed, center, scale), new Args().ptr(f).i64(N)
                    .i32(seed).f32(center).f32(scale), "fill_random_f32", () -> f.fill((byte) 0xff), () -> {
                        float[] got = toFloats(f, N);
                        double mean = 0;
                        for (int i = 0; i < N; i++) {
                            assertEquals(center + scale * uniformPm1(i, seed), got[i], 0f, "f32 element " + i);
                            mean += got[i] / N;
                        }
                        assertEquals(center, mean, 4 * scale / Math.sqrt(3 * N), "mean of " + N + " uniform draws");
                    });
        }
    }

    /**
     * The bf16 nearest to finite {@code x} (ties to the even one; beyond the largest bf16 by half an ulp or more,
     * infinity), found by comparing exact decimal distances to the two bf16 neighbours, not by bit tricks.
     */
    static int bf16Bits(float x) {
        int bits = Float.floatToRawIntBits(x);
        int lo = bits >>> 16;       // truncation: the neighbour towards zero
        int hi = lo + 1;            // the neighbour away from zero (0x7f80 / 0xff80 is infinity)
        if ((bits & 0xffff) == 0) {
            return lo;
        }
        BigDecimal v = new BigDecimal(x).abs();
        BigDecimal dl = v.subtract(value(lo)).abs();
        BigDecimal dh = value(hi).subtract(v).abs();
        int c = dl.compareTo(dh);
        return c < 0 ? lo : c > 0 ? hi : ((lo & 1) == 0 ? lo : hi);
    }

    // |value| of bf16 bits h; the infinity just past the largest finite bf16 counts as 2^128 for rounding.
    private static BigDecimal value(int h) {
        if ((h & 0x7fff) == 0x7f80) {
            return new BigDecimal(2).pow(128);
        }
        return new BigDecimal(Math.abs(Float.intBitsToFloat(h << 16)));
    }
}
