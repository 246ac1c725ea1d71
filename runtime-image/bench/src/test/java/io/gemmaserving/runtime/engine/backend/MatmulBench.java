package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.gguf.GgufFile;
import io.gemmaserving.runtime.engine.gguf.GgufTensorInfo;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Benchmark, not a test: VectorBackend matmul on the real Gemma 3 270M weights.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes \
 *     io.gemmaserving.runtime.engine.backend.MatmulBench $GEMMA_270M_GGUF [threads=2] [batches=1,128]
 * </pre>
 *
 * A fourth argument lists the tensors to time (comma-separated). Prints, per tensor and batch, the median time, the weight bytes streamed per second and GFLOP/s; then a
 * "decode sweep": every 2-D weight of every block plus token_embd as the output head, batch 1, as one decode
 * step's matrix products (the tokens/s it implies is an upper bound for decode, attention not counted).
 */
public final class MatmulBench {

    /** Warm-up per measurement, -Dbench.warmup.ms (default 5000): on 2 cores C2 needs seconds for all kernels. */
    static final long WARMUP_NANOS = Long.getLong("bench.warmup.ms", 5000) * 1_000_000L;

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args.length > 0 ? args[0] : System.getenv("GEMMA_270M_GGUF"));
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int[] batches = Arrays.stream((args.length > 2 ? args[2] : "1,128").split(",")).mapToInt(Integer::parseInt).toArray();
        try (GgufFile f = GgufFile.open(file); VectorBackend backend = new VectorBackend(threads)) {
            System.out.printf("VectorBackend, %d threads, %s%n", threads, file.getFileName());
            List<String> names = args.length > 3 ? List.of(args[3].split(",")) : List.of("token_embd.weight",
                    "blk.0.ffn_up.weight", "blk.0.ffn_down.weight", "blk.1.ffn_down.weight", "blk.0.attn_output.weight",
                    "blk.0.attn_v.weight");
            for (String name : names) {
                if (!f.hasTensor(name)) {
                    continue;
                }
                WeightTensor w = f.tensor(name);
                long bytes = f.tensorInfos().get(name).bytes();
                for (int batch : batches) {
                    float[] x = random(batch * w.cols());
                    float[] out = new float[(int) (batch * w.rows())];
                    double flop = 2.0 * batch * w.rows() * w.cols();
                    int reps = (int) Math.max(3, Math.min(200, 2e9 / flop));
                    double s = median(reps, () -> backend.matmul(w, x, out, batch));
                    System.out.printf("%-26s %-5s %7d x %-5d batch %4d: median %8.3f ms %6.1f GB/s %6.1f GFLOP/s;"
                            + " best %8.3f ms %6.1f GB/s %6.1f GFLOP/s%n", name, w.type(), w.rows(), w.cols(), batch,
                            s * 1e3, bytes / s / 1e9, flop / s / 1e9, lastBest * 1e3, bytes / lastBest / 1e9,
                            flop / lastBest / 1e9);
                }
            }
            // one decode step's matrix products
            List<WeightTensor> all = new ArrayList<>();
            long total = 0;
            for (GgufTensorInfo i : f.tensorInfos().values()) {
                if (i.dims().length == 2 && (i.name().startsWith("blk.") || i.name().equals("token_embd.weight"))) {
                    all.add(f.tensor(i.name()));
                    total += i.bytes();
                }
            }
            decodeSweep(backend, "decode sweep", all, total);
            List<WeightTensor> blocks = all.stream().filter(w -> w.name().startsWith("blk.")).toList();
            decodeSweep(backend, "decode sweep without the head", blocks,
                    total - f.tensorInfos().get("token_embd.weight").bytes());
            // one prefill chunk of 128 tokens through every block matrix (the head is needed for the last token only)
            int batch = 128;
            float[] xb = random(batch * 2048);
            float[] ob = new float[batch * 2048];
            double flop = 0;
            for (WeightTensor w : blocks) {
                flop += 2.0 * batch * w.rows() * w.cols();
            }
            double p = median(5, () -> {
                for (WeightTensor w : blocks) {
                    backend.matmul(w, xb, ob, batch);
                }
            });
            System.out.printf("prefill sweep: %d block matrices x %d tokens: median %.1f ms = %.1f GFLOP/s, at most %.0f tokens/s"
                    + " (best %.1f ms = %.0f tokens/s)%n",
                    blocks.size(), batch, p * 1e3, flop / p / 1e9, batch / p, lastBest * 1e3, batch / lastBest);
        }
    }

    /** One decode step's products over {@code ws} (batch 1), median and best of 15. */
    private static void decodeSweep(VectorBackend backend, String label, List<WeightTensor> ws, long bytes) {
        float[] x = random(4096);
        float[] out = new float[262144];
        double s = median(15, () -> {
            for (WeightTensor w : ws) {
                backend.matmul(w, x, out, 1);
            }
        });
        System.out.printf("%s: %d matrices, %.1f MB: median %.2f ms/token = %.1f GB/s, at most %.1f tokens/s"
                + " (best %.2f ms = %.1f tokens/s)%n",
                label, ws.size(), bytes / 1e6, s * 1e3, bytes / s / 1e9, 1 / s, lastBest * 1e3, 1 / lastBest);
    }

    /** {@code n} standard-normal values, the same each run (seed 1): the activations every bench here feeds in. */
    static float[] random(int n) {
        Random r = new Random(1);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** Fastest repetition of the last {@link #median} call: on a machine shared with other work, the better guide. */
    static double lastBest;

    private static double median(int reps, Runnable op) {
        long warm = System.nanoTime();
        for (int i = 0; i < 3 || System.nanoTime() - warm < WARMUP_NANOS; i++) {
            op.run(); // warm-up: C2 must compile every kernel (the Vector API is slow until then), page cache
        }
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            op.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(t);
        lastBest = t[0];
        return t[reps / 2];
    }
}
