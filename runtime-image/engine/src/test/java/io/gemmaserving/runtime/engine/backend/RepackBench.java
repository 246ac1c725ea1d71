package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.gguf.GgufFile;
import io.gemmaserving.runtime.engine.tensor.AbstractTensor;
import io.gemmaserving.runtime.engine.tensor.Repack;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.nio.file.Path;
import java.util.Random;

/**
 * Benchmark, not a test: the mapped layout against the repacked one, alternating, for the tensors named (default:
 * the 270M's output head). Per tensor: one thread on a cache-resident slice (the kernel's own speed), one thread
 * and {@code threads} threads on the whole tensor through VectorBackend (what decode sees).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes \
 *     io.gemmaserving.runtime.engine.backend.RepackBench $GEMMA_270M_GGUF [threads=2] [rounds=5] [tensors]
 * </pre>
 */
public final class RepackBench {

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args.length > 0 ? args[0] : System.getenv("GEMMA_270M_GGUF"));
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        String[] names = (args.length > 3 ? args[3] : "token_embd.weight").split(",");
        try (GgufFile f = GgufFile.open(file); VectorBackend one = new VectorBackend(1);
             VectorBackend many = new VectorBackend(threads)) {
            for (String name : names) {
                WeightTensor mapped = f.tensor(name);
                long t0 = System.nanoTime();
                WeightTensor packed = Repack.forVector(mapped);
                System.out.printf("%s %s %d x %d: repacked as %s in %.0f ms%n", name, mapped.type(), mapped.rows(),
                        mapped.cols(), packed.getClass().getSimpleName(), (System.nanoTime() - t0) / 1e6);
                long bytes = f.tensorInfos().get(name).bytes();
                float[] x = new float[mapped.cols()];
                Random r = new Random(1);
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                float[] out = new float[(int) mapped.rows()];
                int slice = (int) Math.min(mapped.rows(), 1024);
                for (int round = 0; round < rounds; round++) {
                    for (WeightTensor w : new WeightTensor[] {mapped, packed}) {
                        AbstractTensor t = (AbstractTensor) w;
                        double cached = best(200, () -> t.dotRows(x, out, 1, 0, slice));
                        double single = best(5, () -> one.matmul(w, x, out, 1));
                        double multi = best(10, () -> many.matmul(w, x, out, 1));
                        double per32 = mapped.cols() / 32.0;
                        System.out.printf("round %d %-13s: cached slice %5.2f ns/32 weights; whole, 1 thread %7.2f ms"
                                        + " %5.1f GB/s; %d threads %7.2f ms %5.1f GB/s%n", round,
                                w.getClass().getSimpleName(), cached * 1e9 / (slice * per32), single * 1e3,
                                bytes / single / 1e9, threads, multi * 1e3, bytes / multi / 1e9);
                    }
                }
            }
        }
    }

    private static double best(int reps, Runnable op) {
        for (int i = 0; i < Math.max(3, reps / 4); i++) {
            op.run();
        }
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            op.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }
}
