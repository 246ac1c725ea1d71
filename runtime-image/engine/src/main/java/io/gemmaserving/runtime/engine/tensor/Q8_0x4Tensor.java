package io.gemmaserving.runtime.engine.tensor;

import static io.gemmaserving.runtime.engine.tensor.Simd.B;
import static io.gemmaserving.runtime.engine.tensor.Simd.F;
import static io.gemmaserving.runtime.engine.tensor.Simd.L;
import static io.gemmaserving.runtime.engine.tensor.Simd.LE;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * A Q8_0 tensor repacked at load into the layout its decode kernel streams: rows in groups of {@value #G}, the
 * group's blocks interleaved ({@code [group][block][row of group][32 int8]}, 128 bytes per block of the group), and
 * the fp16 scales widened once to float in an array of their own ({@code [group][block][row of group]}). One load
 * of 16 activations then serves four rows, the quantized bytes of a group are one memory stream, and a scale is a
 * broadcast from memory instead of an fp16 load and conversion per block. The source tensor (the mapped file)
 * still serves single-row reads: embedding lookups and the dequantized tiles of batched products.
 */
public final class Q8_0x4Tensor extends AbstractTensor {

    /** Rows interleaved per group. */
    static final int G = 4;
    private static final int GROUP_BLOCK = G * 32;

    private final Q8_0Tensor src;
    private final MemorySegment packed;
    private final float[] scales;
    private final int groups;

    private Q8_0x4Tensor(Q8_0Tensor src, MemorySegment packed, float[] scales, int groups) {
        super(src.name(), TensorType.Q8_0, src.rows(), src.cols(), src.data());
        this.src = src;
        this.packed = packed;
        this.scales = scales;
        this.groups = groups;
    }

    /** Repacks {@code src}; rows past the last whole group are padded with zero weights. */
    public static Q8_0x4Tensor repack(Q8_0Tensor src) {
        long rows = src.rows();
        int blocks = src.cols() / 32;
        int groups = Math.toIntExact((rows + G - 1) / G);
        long scaleCount = (long) groups * blocks * G;
        if (scaleCount > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor " + src.name() + " is too large to repack");
        }
        MemorySegment packed = PackedMemory.allocate((long) groups * blocks * GROUP_BLOCK);
        float[] scales = new float[(int) scaleCount];
        MemorySegment data = src.data();
        long rowBytes = (long) blocks * 34;
        for (long r = 0; r < rows; r++) {
            int g = (int) (r / G), j = (int) (r % G);
            for (int b = 0; b < blocks; b++) {
                long from = r * rowBytes + (long) b * 34;
                long to = ((long) g * blocks + b) * GROUP_BLOCK + (long) j * 32;
                MemorySegment.copy(data, from + 2, packed, to, 32);
                scales[(g * blocks + b) * G + j] = Simd.f16(data, from);
            }
        }
        return new Q8_0x4Tensor(src, packed, scales, groups);
    }

    @Override
    protected void dequantizeBlock(long bo, float[] out, int off) {
        float d = Simd.f16(data, bo);
        for (int i = 0; i < 32; i++) {
            out[off + i] = d * Simd.i8(data, bo + 2 + i);
        }
    }

    /** From the source tensor (its vector dequantization). */
    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        src.dequantizeRow(row, out, off);
    }

    /** L int8 lanes of the packed bytes at {@code off} as floats. */
    private FloatVector q(long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B, packed, off, LE).castShape(F, 0);
    }

    /** One row from the packed layout (the kernel tests compare it with the scalar reference). */
    @Override
    public float dotVector(long row, float[] x, int xOff) {
        rowOffset(row); // bounds
        if (!Simd.QUANT_OK) {
            return super.dotVector(row, x, xOff);
        }
        int g = (int) (row / G), j = (int) (row % G);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = ((long) g * blocksPerRow + b) * GROUP_BLOCK + (long) j * 32;
            int xo = xOff + b * 32;
            FloatVector s = q(bo).mul(FloatVector.fromArray(F, x, xo));
            for (int k = L; k < 32; k += L) {
                s = q(bo + k).fma(FloatVector.fromArray(F, x, xo + k), s);
            }
            acc = s.fma(FloatVector.broadcast(F, scales[(g * blocksPerRow + b) * G + j]), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Rows [r0, r1) for every activation row: whole groups, visited as {@value AbstractTensor#STREAMS} interleaved
     * runs of groups (several memory streams in flight, see {@link AbstractTensor#streamRows}). A group that
     * straddles r0 or r1 is computed whole and only its rows inside [r0, r1) are written.
     */
    @Override
    public void dotRows(float[] x, float[] out, int batch, int r0, int r1) {
        if (!Simd.QUANT_OK) {
            super.dotRows(x, out, batch, r0, r1);
            return;
        }
        int n = (int) rows;
        int g0 = r0 / G, g1 = (r1 + G - 1) / G;
        int per = streamRows(g0, g1);
        for (int q = 0; q < per; q++) {
            for (int g = g0 + q; g < g1; g += per) {
                for (int b = 0; b < batch; b++) {
                    group(g, x, b * cols, out, b * n, r0, r1);
                }
            }
        }
    }

    /** Dots of group g's four rows with x at xOff, written to out[o + row] for the rows in [r0, r1). */
    private void group(int g, float[] x, int xOff, float[] out, int o, int r0, int r1) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        long base = (long) g * blocksPerRow * GROUP_BLOCK;
        int sb = g * blocksPerRow * G;
        for (int b = 0; b < blocksPerRow; b++) {
            long bo = base + (long) b * GROUP_BLOCK;
            int xo = xOff + b * 32;
            FloatVector xv = FloatVector.fromArray(F, x, xo);
            FloatVector s0 = q(bo).mul(xv);
            FloatVector s1 = q(bo + 32).mul(xv);
            FloatVector s2 = q(bo + 64).mul(xv);
            FloatVector s3 = q(bo + 96).mul(xv);
            for (int k = L; k < 32; k += L) {
                xv = FloatVector.fromArray(F, x, xo + k);
                s0 = q(bo + k).fma(xv, s0);
                s1 = q(bo + 32 + k).fma(xv, s1);
                s2 = q(bo + 64 + k).fma(xv, s2);
                s3 = q(bo + 96 + k).fma(xv, s3);
            }
            int si = sb + b * G;
            a0 = s0.fma(FloatVector.broadcast(F, scales[si]), a0);
            a1 = s1.fma(FloatVector.broadcast(F, scales[si + 1]), a1);
            a2 = s2.fma(FloatVector.broadcast(F, scales[si + 2]), a2);
            a3 = s3.fma(FloatVector.broadcast(F, scales[si + 3]), a3);
        }
        int r = g * G;
        if (r >= r0 && r + G <= r1) {
            out[o + r] = a0.reduceLanes(VectorOperators.ADD);
            out[o + r + 1] = a1.reduceLanes(VectorOperators.ADD);
            out[o + r + 2] = a2.reduceLanes(VectorOperators.ADD);
            out[o + r + 3] = a3.reduceLanes(VectorOperators.ADD);
            return;
        }
        float[] v = {a0.reduceLanes(VectorOperators.ADD), a1.reduceLanes(VectorOperators.ADD),
                a2.reduceLanes(VectorOperators.ADD), a3.reduceLanes(VectorOperators.ADD)};
        for (int j = 0; j < G; j++) {
            if (r + j >= r0 && r + j < r1) {
                out[o + r + j] = v[j];
            }
        }
    }

    /** Bytes of the packed copy: quantized bytes and float scales. */
    @Override
    public long streamedBytes() {
        return packed.byteSize() + 4L * scales.length;
    }

    /** The same loop as {@link AbstractTensor#dequantizeRows}, here so that {@link #dequantizeRow} inlines. */
    @Override
    public void dequantizeRows(long r0, int count, float[] out, int off) {
        for (int i = 0; i < count; i++) {
            dequantizeRow(r0 + i, out, off + i * cols);
        }
    }
}
