package io.gemmaserving.runtime.engine.tensor;

import java.lang.foreign.MemorySegment;

/**
 * What every format shares: shape, the mapped bytes, block walking. A format implements
 * {@link #dequantizeBlock} (ggml's {@code dequantize_row_*} for one block); {@link #dotScalar} is then the plain
 * reference, and the default {@link #dotVector} dequantizes the row into a thread-local buffer and runs a vector
 * dot. The formats that matter for speed override {@link #dotVector} with a fused kernel.
 */
public abstract class AbstractTensor implements WeightTensor {

    private static final ThreadLocal<float[]> ROW_BUFFER = ThreadLocal.withInitial(() -> new float[0]);

    protected final String name;
    protected final TensorType type;
    protected final long rows;
    protected final int cols;
    protected final MemorySegment data;
    /** Bytes of one row: blocksPerRow * type.bytesPerBlock. */
    protected final long rowBytes;
    protected final int blocksPerRow;

    protected AbstractTensor(String name, TensorType type, long rows, int cols, MemorySegment data) {
        if (rows <= 0 || cols <= 0 || cols % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + name + ": shape " + rows + " x " + cols
                    + " is not a positive whole number of " + type + " blocks of " + type.blockSize);
        }
        this.name = name;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.data = data;
        this.blocksPerRow = cols / type.blockSize;
        this.rowBytes = (long) blocksPerRow * type.bytesPerBlock;
        if (data.byteSize() < rows * rowBytes) {
            throw new IllegalArgumentException("tensor " + name + ": " + rows + " x " + cols + " " + type + " needs "
                    + rows * rowBytes + " bytes, segment has " + data.byteSize());
        }
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final TensorType type() {
        return type;
    }

    @Override
    public final long rows() {
        return rows;
    }

    @Override
    public final int cols() {
        return cols;
    }

    /** The mapped bytes (rows * rowBytes). */
    public final MemorySegment data() {
        return data;
    }

    /** Bytes of the whole tensor as stored. */
    public final long byteSize() {
        return rows * rowBytes;
    }

    /** Decodes the block starting at byte {@code blockOffset} into {@code out[off .. off + blockSize)}. */
    protected abstract void dequantizeBlock(long blockOffset, float[] out, int off);

    protected final long rowOffset(long row) {
        if (row < 0 || row >= rows) {
            throw new IndexOutOfBoundsException("tensor " + name + ": row " + row + " outside [0, " + rows + ")");
        }
        return row * rowBytes;
    }

    @Override
    public void dequantizeRow(long row, float[] out, int off) {
        long base = rowOffset(row);
        int bs = type.blockSize;
        for (int b = 0; b < blocksPerRow; b++) {
            dequantizeBlock(base + (long) b * type.bytesPerBlock, out, off + b * bs);
        }
    }

    /** Block by block: decode the block as {@link #dequantizeBlock} does, then multiply-add in order. */
    @Override
    public float dotScalar(long row, float[] x, int xOff) {
        long base = rowOffset(row);
        int bs = type.blockSize;
        float[] w = new float[bs];
        float sum = 0f;
        for (int b = 0; b < blocksPerRow; b++) {
            dequantizeBlock(base + (long) b * type.bytesPerBlock, w, 0);
            int xo = xOff + b * bs;
            for (int i = 0; i < bs; i++) {
                sum += w[i] * x[xo + i];
            }
        }
        return sum;
    }

    /** Dequantize into a per-thread buffer, then a vector dot. */
    @Override
    public float dotVector(long row, float[] x, int xOff) {
        float[] buf = rowBuffer(cols);
        dequantizeRow(row, buf, 0);
        return Simd.dot(buf, 0, x, xOff, cols);
    }

    /**
     * Matrix-vector products for rows [r0, r1) against {@code batch} activation rows:
     * {@code out[b * rows + r] = dotVector(r, x, b * cols)}. The fast formats override this with the same loop in
     * their own (final) class, so the JIT inlines their {@code dotVector} into a loop that only ever sees that
     * class: a single loop shared by every format makes the call site poly- or megamorphic, and a 2-3-type inlined
     * kernel loses its Vector API intrinsics (measured: 5-20x slower). One loop with a switch over the final
     * classes ({@link RowLoops}) keeps the calls bound, but compiles every format's kernel into one method, and in
     * two JVMs of four it ran the Q8_0 output head 2.1-2.4x slower throughout (docs/performance.md).
     */
    public void dotRows(float[] x, float[] out, int batch, int r0, int r1) {
        int n = (int) rows;
        int per = streamRows(r0, r1);
        for (int q = 0; q < per; q++) {
            for (int r = r0 + q; r < r1; r += per) {
                for (int b = 0; b < batch; b++) {
                    out[b * n + r] = dotVector(r, x, b * cols);
                }
            }
        }
    }

    /** Memory streams {@link #dotRows} reads at once, see {@link #streamRows}. */
    static final int STREAMS = 2;

    /**
     * {@link #dotRows} visits rows [r0, r1) as {@value #STREAMS} interleaved runs: r0, r0+per, r0+1, r0+1+per, ...
     * (returns per). A decode product reads its weights from memory, and one run in row order left the core waiting
     * on memory and then computing, one after the other (the 270M's Q8_0 output head, 178 MB, one thread, on an
     * Intel Xeon: 5.2 ns per 32 weights in row order, 3.2 ns with four runs, 2.5 ns from cache). Two runs rather than
     * four since the chunks a thread takes (VectorBackend) hold a few tens of rows: on an AMD EPYC the bench's decode
     * was 54.2 against 45.8 tok/s (median of 4 alternating rounds, docs/performance.md).
     */
    protected static int streamRows(int r0, int r1) {
        return Math.max(1, (r1 - r0 + STREAMS - 1) / STREAMS);
    }

    /** Dequantizes rows [r0, r0 + count) into {@code out} back to back; overridden per class as {@link #dotRows}. */
    public void dequantizeRows(long r0, int count, float[] out, int off) {
        for (int i = 0; i < count; i++) {
            dequantizeRow(r0 + i, out, off + i * cols);
        }
    }

    /** A per-thread scratch buffer of at least {@code n} floats (reused: no allocation once grown). */
    protected static float[] rowBuffer(int n) {
        float[] buf = ROW_BUFFER.get();
        if (buf.length < n) {
            buf = new float[n];
            ROW_BUFFER.set(buf);
        }
        return buf;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + ", " + rows + " x " + cols + "]";
    }
}
