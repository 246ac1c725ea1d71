package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;

/** Random but valid tensors for kernel tests: random bytes, with every scale field a finite, moderate value. */
public final class TestData {

    /** Every type {@link Tensors#of} builds a tensor of. */
    public static final List<TensorType> SUPPORTED = List.of(TensorType.values()).stream()
            .filter(TestData::buildable).toList();

    private TestData() {
    }

    private static boolean buildable(TensorType type) {
        try {
            Tensors.of("probe", type, 1, type.blockSize, MemorySegment.ofArray(new byte[(int) type.bytesFor(type.blockSize)]));
            return true;
        } catch (UnsupportedOperationException e) {
            return false;
        }
    }

    /** A column count with an odd number of blocks and, for 1-element blocks, a ragged tail. */
    public static int cols(TensorType type) {
        return switch (type.blockSize) {
            case 1 -> 300;
            case 32 -> 7 * 32;
            default -> 3 * 256;
        };
    }

    /** Raw bytes of a [rows x cols] tensor of {@code type}. */
    public static byte[] randomBytes(TensorType type, long rows, int cols, Random rnd) {
        int blocks = (int) (rows * cols / type.blockSize);
        ByteBuffer buf = ByteBuffer.allocate(blocks * type.bytesPerBlock).order(ByteOrder.LITTLE_ENDIAN);
        byte[] b = buf.array();
        rnd.nextBytes(b);
        for (int i = 0; i < blocks; i++) {
            int o = i * type.bytesPerBlock;
            switch (type) {
                case F32 -> buf.putFloat(o, (float) rnd.nextGaussian());
                case F16 -> buf.putShort(o, Float.floatToFloat16((float) rnd.nextGaussian()));
                case BF16 -> buf.putShort(o, (short) (Float.floatToRawIntBits((float) rnd.nextGaussian()) >>> 16));
                case Q8_0, Q4_0, Q5_0, IQ4_NL, IQ3_S -> half(buf, o, rnd);
                case Q4_1, Q5_1, Q4_K, Q5_K -> {
                    half(buf, o, rnd);
                    half(buf, o + 2, rnd);
                }
                case Q2_K -> {
                    half(buf, o + 80, rnd);
                    half(buf, o + 82, rnd);
                }
                case Q3_K -> half(buf, o + 108, rnd);
                case Q6_K -> half(buf, o + 208, rnd);
                case Q8_K -> buf.putFloat(o, (float) (rnd.nextGaussian() * 0.01));
                default -> throw new IllegalArgumentException("no generator for " + type);
            }
        }
        return b;
    }

    /** An fp16 scale of magnitude about 0.001 to 0.05, either sign. */
    private static void half(ByteBuffer buf, int off, Random rnd) {
        float v = (float) ((0.001 + rnd.nextDouble() * 0.05) * (rnd.nextBoolean() ? 1 : -1));
        buf.putShort(off, Float.floatToFloat16(v));
    }

    public static MemorySegment segment(byte[] bytes) {
        MemorySegment s = Arena.ofAuto().allocate(bytes.length, 64);
        s.copyFrom(MemorySegment.ofArray(bytes));
        return s;
    }

    public static WeightTensor randomTensor(TensorType type, long rows, int cols, Random rnd) {
        return Tensors.of(type + ".test", type, rows, cols, segment(randomBytes(type, rows, cols, rnd)));
    }

    public static float[] randomVector(int n, Random rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /** Sum of |w_i * x_i| over a row, the scale for relative tolerances of a dot product. */
    public static double absDot(WeightTensor w, long row, float[] x, int xOff) {
        float[] r = new float[w.cols()];
        w.dequantizeRow(row, r, 0);
        double s = 0;
        for (int i = 0; i < r.length; i++) {
            s += Math.abs((double) r[i] * x[xOff + i]);
        }
        return s;
    }
}
