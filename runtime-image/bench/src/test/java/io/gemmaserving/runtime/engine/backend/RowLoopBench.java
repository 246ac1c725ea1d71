package io.gemmaserving.runtime.engine.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gemmaserving.runtime.engine.gguf.GgufFile;
import io.gemmaserving.runtime.engine.gguf.GgufTensorInfo;
import io.gemmaserving.runtime.engine.tensor.AbstractTensor;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.Tensors;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Benchmark: the per-format row loops ({@code dotRows}/{@code dequantizeRows} copied into each tensor class)
 * against {@link io.gemmaserving.runtime.engine.tensor.RowLoops}' one loop with a switch over the final classes,
 * through {@link VectorBackend} on the real Gemma 3 270M, 1 and 2 threads, in one JVM.
 *
 * <pre>
 * ./mvnw -B -ntp -o -pl runtime-image/bench -am test -Dgroups=bench -DexcludedGroups= -Dtest=RowLoopBench \
 *     -Dsurefire.failIfNoSpecifiedTests=false    # -Dbench.rounds=6 -Dbench.reps=10
 * </pre>
 *
 * Per format of the model: "decode" is every 2-D weight of that format as one decode step multiplies it (batch 1:
 * the fused row loop {@code dotRows}), "prefill" one of its matrices times 32 activation rows (the tiled path:
 * {@code dequantizeRows}; the Q8_0 output head cut to its first 4096 rows). Every variant, format and path runs
 * through the warm-up first, so the shared call sites have seen every format as in serving. Then rounds
 * alternate the variants (order flipped each round, so the machine's load drifts over both alike); a figure is
 * the best of a round's repetitions, in ns per 32 weights. The two variants run the same kernels in the same
 * order, so after the warm-up their outputs must agree to rounding: that is the check.
 */
@Tag("bench")
class RowLoopBench {

    static final int ROUNDS = Integer.getInteger("bench.rounds", 6);
    static final long WARMUP_NANOS = Long.getLong("bench.warmup.ms", 12000) * 1_000_000L;
    static final int PREFILL_BATCH = 32;
    /** Repetitions per case and round; the round's figure is their best. */
    static final int REPS = Integer.getInteger("bench.reps", 10);

    /** One timed case: a list of matrices multiplied in turn by {@code batch} activation rows. */
    record Case(TensorType type, String kind, List<WeightTensor> ws, int batch, int reps) {
        double weights() {
            return ws.stream().mapToDouble(w -> (double) w.rows() * w.cols()).sum();
        }
    }

    @Test
    void sharedLoopAgainstPerClassCopies() throws Exception {
        String env = System.getenv("GEMMA_270M_GGUF");
        assumeTrue(env != null && Files.exists(Path.of(env)), "GEMMA_270M_GGUF not set: no model to time");
        try (GgufFile f = GgufFile.open(Path.of(env))) {
            Map<TensorType, List<WeightTensor>> byType = new LinkedHashMap<>();
            for (GgufTensorInfo i : f.tensorInfos().values()) {
                if (i.dims().length == 2 && (i.name().startsWith("blk.") || i.name().equals("token_embd.weight"))) {
                    byType.computeIfAbsent(i.type(), t -> new ArrayList<>()).add(f.tensor(i.name()));
                }
            }
            List<Case> cases = new ArrayList<>();
            for (var e : byType.entrySet()) {
                cases.add(new Case(e.getKey(), "decode", e.getValue(), 1, REPS));
                WeightTensor first = e.getValue().getFirst();
                if (first.rows() > 4096) {
                    AbstractTensor t = (AbstractTensor) first;
                    long rowBytes = t.byteSize() / t.rows();
                    first = Tensors.of(first.name() + "[0:4096]", first.type(), 4096, first.cols(),
                            t.data().asSlice(0, 4096 * rowBytes));
                }
                cases.add(new Case(e.getKey(), "prefill", List.of(first), PREFILL_BATCH, REPS));
            }
            StringBuilder shapes = new StringBuilder();
            byType.forEach((t, ws) -> shapes.append(String.format(" %s: %d matrices %.1f M weights;", t, ws.size(),
                    ws.stream().mapToDouble(w -> (double) w.rows() * w.cols()).sum() / 1e6)));
            System.out.println("formats of the 2-D weights:" + shapes);

            int[] threadCounts = {1, 2};
            VectorBackend[][] backends = new VectorBackend[threadCounts.length][2]; // [threads][0 copies, 1 shared]
            try {
                for (int ti = 0; ti < threadCounts.length; ti++) {
                    backends[ti][0] = new VectorBackend(threadCounts[ti], false);
                    backends[ti][1] = new VectorBackend(threadCounts[ti], true);
                }
                int maxOut = 0, maxX = 0;
                for (Case c : cases) {
                    for (WeightTensor w : c.ws) {
                        maxOut = Math.max(maxOut, (int) (c.batch * w.rows()));
                        maxX = Math.max(maxX, c.batch * w.cols());
                    }
                }
                float[] x = MatmulBench.random(maxX);
                float[] out0 = new float[maxOut], out1 = new float[maxOut];

                // every call site sees every format before anything is timed
                long warm = System.nanoTime();
                while (System.nanoTime() - warm < WARMUP_NANOS) {
                    for (VectorBackend[] pair : backends) {
                        for (VectorBackend b : pair) {
                            for (Case c : cases) {
                                run(b, c, x, out0);
                            }
                        }
                    }
                }

                // the same kernels in the same order: equal up to the order reduceLanes adds lanes in, which the
                // Vector API leaves open (its Java fallback and C2's intrinsic differ), a few float ulps of the sum
                for (Case c : cases) {
                    for (WeightTensor w : c.ws) {
                        backends[0][0].matmul(w, x, out0, c.batch);
                        backends[0][1].matmul(w, x, out1, c.batch);
                        int n = (int) (c.batch * w.rows());
                        float scale = 0;
                        for (int i = 0; i < n; i++) {
                            scale = Math.max(scale, Math.abs(out0[i]));
                        }
                        for (int i = 0; i < n; i++) {
                            assertEquals(out0[i], out1[i], 1e-5f * scale, w.name() + " batch " + c.batch + " [" + i + "]");
                        }
                    }
                }

                // [threads][variant][case][round]
                double[][][][] ns = new double[threadCounts.length][2][cases.size()][ROUNDS];
                System.out.printf("load before rounds: %s%n", load());
                for (int round = 0; round < ROUNDS; round++) {
                    for (int ti = 0; ti < threadCounts.length; ti++) {
                        for (int k = 0; k < 2; k++) {
                            int v = (round + k) % 2;
                            for (int ci = 0; ci < cases.size(); ci++) {
                                Case c = cases.get(ci);
                                double best = Double.MAX_VALUE;
                                for (int rep = 0; rep < c.reps; rep++) {
                                    long t0 = System.nanoTime();
                                    run(backends[ti][v], c, x, out0);
                                    best = Math.min(best, System.nanoTime() - t0);
                                }
                                ns[ti][v][ci][round] = best / (c.weights() / 32.0);
                            }
                        }
                    }
                }
                System.out.printf("load after rounds: %s%n", load());
                System.out.println("| threads | format | product | per-class copies, ns / 32 weights per round"
                        + " | shared loop, ns / 32 weights per round | shared / copies (medians) |");
                System.out.println("|---|---|---|---|---|---|");
                for (int ti = 0; ti < threadCounts.length; ti++) {
                    for (int ci = 0; ci < cases.size(); ci++) {
                        Case c = cases.get(ci);
                        System.out.printf("| %d | %s | %s | %s | %s | %.3f |%n", threadCounts[ti], c.type,
                                c.kind + (c.batch > 1 ? " x" + c.batch : ""), fmt(ns[ti][0][ci]), fmt(ns[ti][1][ci]),
                                median(ns[ti][1][ci]) / median(ns[ti][0][ci]));
                    }
                }
            } finally {
                for (VectorBackend[] pair : backends) {
                    for (VectorBackend b : pair) {
                        if (b != null) {
                            b.close();
                        }
                    }
                }
            }
        }
    }

    private static void run(VectorBackend b, Case c, float[] x, float[] out) {
        for (WeightTensor w : c.ws) {
            b.matmul(w, x, out, c.batch);
        }
    }

    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static String fmt(double[] v) {
        StringBuilder s = new StringBuilder();
        for (double d : v) {
            s.append(s.isEmpty() ? "" : ", ").append(String.format("%.2f", d));
        }
        return s.toString();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
