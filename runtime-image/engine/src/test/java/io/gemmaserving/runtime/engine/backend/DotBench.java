package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.gguf.GgufFile;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.nio.file.Path;
import java.util.Random;

/**
 * Benchmark, not a test: one thread, dotVector over every row of one tensor per type of the 270M file (the
 * tensor stays in cache), to see the kernels' own speed apart from memory and threads.
 */
public final class DotBench {

    public static void main(String[] args) throws Exception {
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
                System.out.printf("%-24s %-5s %5d x %-5d: %7.1f us, %5.1f GB/s, %5.2f ns per 32 weights (sink %s)%n",
                        name, w.type(), w.rows(), w.cols(), best * 1e6, bytes / best / 1e9,
                        best * 1e9 / (w.rows() * w.cols() / 32.0), sink > 0 ? "+" : "-");
            }
        }
    }
}
