package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.backend.ScalarBackend;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Args;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Dim;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * the residual add exactly, bf16 rounding exactly against an independent round-to-nearest-even. Every launch uses
 * fewer threads than elements, so the grid-stride loops wrap.
 */
@Tag("unit")
class ElementwiseKernelsEmuTest {

    static final List<String> KERNELS = List.of("geglu", "add_inplace", "softcap", "to_bf16");
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
            MemorySegment out = CudaEmulator.nans(a, N);
            emu.launch("geglu", GRID, BLOCK, new Args().ptr(floats(a, gu[0])).ptr(floats(a, gu[1])).ptr(out).i64(N));
            float[] got = toFloats(out, N);
            for (int i = 0; i < N; i++) {
                double x = gu[0][i], v = 0.7978845608028654 * (x + 0.044715 * x * x * x);
                double t = Math.tanh(v), sech2 = 1 - t * t;
                double tol = 0.5 * Math.abs(x * gu[1][i]) * (sech2 * Math.abs(v) * 5 * U + 4 * U + (1 + t) * 4 * U);
                assertEquals(want[i], got[i], tol, "gate " + x + " up " + gu[1][i]);
            }
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
            MemorySegment xs = floats(a, x);
            emu.launch("add_inplace", GRID, BLOCK, new Args().ptr(xs).ptr(floats(a, y)).i64(N));
            float[] got = toFloats(xs, N);
            for (int i = 0; i < N; i++) {
                assertEquals(x[i] + y[i], got[i], 0f, "element " + i);
            }
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
        for (float cap : new float[] {30f, 50f}) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment xs = floats(a, x);
                emu.launch("softcap", GRID, BLOCK, new Args().ptr(xs).i64(N).f32(cap));
                float[] got = toFloats(xs, N);
                for (int i = 0; i < N; i++) {
                    float want = (float) (cap * Math.tanh(x[i] / cap));
                    assertEquals(want, got[i], 6 * U * Math.abs(want), "x " + x[i] + " cap " + cap);
                }
            }
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment xs = floats(a, x);
            emu.launch("softcap", GRID, BLOCK, new Args().ptr(xs).i64(N).f32(0f));
            assertTrue(java.util.Arrays.equals(x, toFloats(xs, N)), "cap 0 must leave x unchanged");
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
            MemorySegment out = a.allocate(2L * N, 256);
            emu.launch("to_bf16", GRID, BLOCK, new Args().ptr(floats(a, x)).ptr(out).i64(N));
            for (int i = 0; i < N; i++) {
                int got = out.get(ValueLayout.JAVA_SHORT, 2L * i) & 0xffff;
                if (Float.isNaN(x[i])) {
                    int bits = Float.floatToRawIntBits(x[i]);
                    assertEquals((bits >>> 16) & 0x8000, got & 0x8000, "NaN keeps its sign");
                    assertTrue((got & 0x7f80) == 0x7f80 && (got & 0x0040) != 0, "NaN " + Integer.toHexString(bits)
                            + " -> quiet NaN, got " + Integer.toHexString(got));
                } else {
                    assertEquals(bf16Bits(x[i]), got, "x " + x[i] + " (" + Integer.toHexString(Float.floatToRawIntBits(x[i])) + ")");
                }
            }
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
