package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.gguf.GgufFile;
import io.gemmaserving.runtime.engine.tensor.AbstractTensor;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Experiment, not a test: does ggml's trick (quantize x to int8 once per matmul, then integer dot products) beat
 * the float kernels with the JDK Vector API? Q8_0 weights (token_embd of the 270M, cache-resident slice) times
 * x as int8 blocks of 32 with one float scale each: 32 int8 lanes widened to 32 short lanes, multiplied, widened
 * to int and summed, then scaled in float. The Vector API has no vpmaddubsw/vpdpbusd, so the widening costs what
 * the float conversion cost. Prints ns per 32 weights for both.
 */
public final class Int8DotExperiment {

    static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    static final VectorSpecies<Short> S32 = ShortVector.SPECIES_512;
    static final VectorSpecies<Integer> I16 = IntVector.SPECIES_512;
    static final VectorSpecies<Float> F16 = FloatVector.SPECIES_512;

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args.length > 0 ? args[0] : System.getenv("GEMMA_270M_GGUF"));
        try (GgufFile f = GgufFile.open(file)) {
            WeightTensor w = f.tensor("token_embd.weight");
            int rows = 2048, cols = w.cols(), blocks = cols / 32;
            MemorySegment data = ((AbstractTensor) w).data();
            float[] x = new float[cols];
            Random r = new Random(1);
            for (int i = 0; i < cols; i++) {
                x[i] = (float) r.nextGaussian();
            }
            // x -> int8 blocks (Q8_0-like): scale = max|x| / 127 per 32
            byte[] xq = new byte[cols];
            float[] xd = new float[blocks];
            for (int b = 0; b < blocks; b++) {
                float amax = 0;
                for (int i = 0; i < 32; i++) {
                    amax = Math.max(amax, Math.abs(x[b * 32 + i]));
                }
                xd[b] = amax / 127f;
                for (int i = 0; i < 32; i++) {
                    xq[b * 32 + i] = (byte) Math.round(amax == 0 ? 0 : x[b * 32 + i] / xd[b]);
                }
            }
            for (int round = 0; round < 3; round++) {
                double tf = best(() -> {
                    float s = 0;
                    for (int row = 0; row < rows; row++) {
                        s += w.dotVector(row, x, 0);
                    }
                    return s;
                });
                double ti = best(() -> {
                    float s = 0;
                    for (int row = 0; row < rows; row++) {
                        s += dotInt8(data, row * (long) blocks * 34, blocks, xq, xd);
                    }
                    return s;
                });
                System.out.printf("Q8_0 x float (dotVector): %.2f ns / 32 weights; Q8_0 x int8: %.2f ns / 32 weights%n",
                        tf * 1e9 / (rows * blocks), ti * 1e9 / (rows * blocks));
            }
            float a = w.dotVector(5, x, 0), b = dotInt8(data, 5L * blocks * 34, blocks, xq, xd);
            System.out.printf("row 5: float %.5f, int8 %.5f (x quantization error)%n", a, b);
        }
    }

    static float dotInt8(MemorySegment data, long base, int blocks, byte[] xq, float[] xd) {
        FloatVector acc = FloatVector.zero(F16);
        for (int b = 0; b < blocks; b++) {
            long bo = base + b * 34L;
            ShortVector wq = (ShortVector) ByteVector.fromMemorySegment(B32, data, bo + 2, ByteOrder.LITTLE_ENDIAN).castShape(S32, 0);
            ShortVector xs = (ShortVector) ByteVector.fromArray(B32, xq, b * 32).castShape(S32, 0);
            ShortVector p = wq.mul(xs);
            IntVector sum = ((IntVector) p.convertShape(VectorOperators.S2I, I16, 0))
                    .add((IntVector) p.convertShape(VectorOperators.S2I, I16, 1));
            float scale = Float.float16ToFloat(data.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, bo)) * xd[b];
            acc = ((FloatVector) sum.convertShape(VectorOperators.I2F, F16, 0)).fma(FloatVector.broadcast(F16, scale), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    interface Op {
        float run();
    }

    static double best(Op op) {
        double best = Double.MAX_VALUE;
        float sink = 0;
        for (int i = 0; i < 200; i++) {
            long t0 = System.nanoTime();
            sink += op.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        if (sink == 42) {
            System.out.print("");
        }
        return best;
    }
}
