package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.gguf.GgufFile;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.nio.file.Path;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.TestData;
import java.util.Random;

/**
 * Benchmark, not a test: one thread, dotVector over every row of one tensor per type of the 270M file (the
 * tensor stays in cache), to see the kernels' own speed apart from memory and threads. With the argument
 * {@code synthetic}: every supported format on random data, vector against scalar.
 */
public final class DotBench {

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("synthetic")) {
            synthetic();
            return;
        }
        Path file = Path.of(args.length > 0 ? args[0] : System.getenv("GEMMA_270M_GGUF"));
        try (GgufFile f = GgufFile.open(file)) {
            for (String name : new String[] {"blk.0.ffn_up.weight", "blk.0.ffn_down.weight", "blk.0.attn_output.weight",
                    "blk.0.attn_v.weight", "blk.2.ffn_down.weight"}) {
                WeightTensor w = f.tensor(name);
                float[] x = new float[w.cols()];
                Random r = new Random(1);
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                long bytes = f.tensorInfos().get(name).bytes();
                float sink = 0;
                double best = Double.MAX_VALUE;
                for (int rep = 0; rep < 300; rep++) {
                    long t0 = System.nanoTime();
                    for (long row = 0; row < w.rows(); row++) {
                        sink += w.dotVector(row, x, 0);
                    }
                    best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                }
                double rowsBest = Double.MAX_VALUE;
                float[] out = new float[(int) w.rows()];
                for (int rep = 0; rep < 300; rep++) {
                    long t0 = System.nanoTime();
                    ((io.gemmaserving.runtime.engine.tensor.AbstractTensor) w).dotRows(x, out, 1, 0, (int) w.rows());
                    rowsBest = Math.min(rowsBest, (System.nanoTime() - t0) / 1e9);
                }
                System.out.printf("%-24s %-5s %5d x %-5d: %7.1f us, %5.1f GB/s, %5.2f ns per 32 weights; dotRows %5.2f (sink %s)%n",
                        name, w.type(), w.rows(), w.cols(), best * 1e6, bytes / best / 1e9,
                        best * 1e9 / (w.rows() * w.cols() / 32.0), rowsBest * 1e9 / (w.rows() * w.cols() / 32.0),
                        sink > 0 ? "+" : "-");
            }
        }
    }

    /** {@code synthetic}: every supported format, random 256 x 4096 tensor, one thread: vector and scalar dots. */
    static void synthetic() {
        Random rnd = new Random(3);
        for (TensorType t : TestData.SUPPORTED) {
            WeightTensor w = TestData.randomTensor(t, 256, 4096, rnd);
            float[] x = TestData.randomVector(4096, rnd);
            double v = time(w, x, true), sc = time(w, x, false);
            System.out.printf("%-6s dotVector %6.2f ns / 32 weights, dotScalar %7.2f ns / 32 weights (%.1fx)%n",
                    t, v, sc, sc / v);
        }
    }

    private static double time(WeightTensor w, float[] x, boolean vector) {
        double best = Double.MAX_VALUE;
        float sink = 0;
        int reps = vector ? 300 : 20;
        for (int rep = 0; rep < reps; rep++) {
            long t0 = System.nanoTime();
            for (long row = 0; row < w.rows(); row++) {
                sink += vector ? w.dotVector(row, x, 0) : w.dotScalar(row, x, 0);
            }
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        if (sink == 42) {
            System.out.print("");
        }
        return best * 1e9 / (w.rows() * w.cols() / 32.0);
    }
}
