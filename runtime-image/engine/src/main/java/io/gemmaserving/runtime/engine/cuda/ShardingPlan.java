package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.tensor.TensorType;

/**
 * How a Gemma model is split across {@code tp} GPUs (Megatron-style tensor parallelism).
 *
 * <p>Weights are row-major [rows = output features x cols = input features]. Megatron's names, in those terms:
 * <ul>
 *   <li><b>column-parallel</b> ({@link Split#OUTPUT}): q, k, v, gate, up. Device d holds a contiguous block of the
 *       output features (rows), i.e. its own attention heads and KV heads and its slice of the FFN width; no
 *       communication is needed after them.</li>
 *   <li><b>row-parallel</b> ({@link Split#INPUT}): the attention output projection and the FFN down projection.
 *       Device d holds the input features (cols) that match the heads / FFN slice it computed, and produces a
 *       partial sum of the full output: an <b>all-reduce</b> (sum) follows each of them.</li>
 *   <li>everything else (norms, the tied embedding / output head) is replicated.</li>
 * </ul>
 * Heads go to devices in order, so device d's query heads [d*H/n, (d+1)*H/n) use exactly its KV heads
 * [d*KV/n, (d+1)*KV/n) under grouped-query attention.
 */
public record ShardingPlan(int tp, int heads, int kvHeads, int headDim, int hidden, int ffn) {

    /** Which dimension of a weight is split. */
    public enum Split {
        /** Rows (output features) split: column-parallel. */
        OUTPUT,
        /** Cols (input features) split: row-parallel, all-reduce after. */
        INPUT,
        /** Whole copy on every device. */
        REPLICATED
    }

    /** The part of a [rows x cols] weight that one device holds. */
    public record Shard(long rowStart, long rowCount, int colStart, int colCount) {
    }

    public ShardingPlan {
        if (tp < 1 || Integer.bitCount(tp) != 1) {
            throw new IllegalArgumentException("tensor-parallel size " + tp + " is not a power of two (1, 2, 4, 8)");
        }
        if (heads % tp != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + tp + " does not divide the " + heads
                    + " attention heads");
        }
        if (kvHeads % tp != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + tp + " does not divide the " + kvHeads
                    + " KV heads" + (kvHeads < tp ? " (at most " + largestDividingPowerOfTwo(kvHeads) + " GPUs for this model)" : ""));
        }
        if (ffn % tp != 0) {
            throw new IllegalArgumentException("tensor-parallel size " + tp + " does not divide the feed-forward width " + ffn);
        }
    }

    /** The plan for {@code config} on {@code tp} devices; a one-line {@link IllegalArgumentException} when impossible. */
    public static ShardingPlan of(ModelDims config, int tp) {
        return new ShardingPlan(tp, config.heads(), config.kvHeads(), config.headDim(), config.hidden(), config.ffn());
    }

    private static int largestDividingPowerOfTwo(int n) {
        return Integer.lowestOneBit(n);
    }

    public int headsPerDevice() {
        return heads / tp;
    }

    public int kvHeadsPerDevice() {
        return kvHeads / tp;
    }

    public int ffnPerDevice() {
        return ffn / tp;
    }

    /** All-reduces per layer: one after the attention output projection, one after the FFN down projection. */
    public int allReducesPerLayer() {
        return tp == 1 ? 0 : 2;
    }

    /** The split of a GGUF tensor, from its name ({@code blk.N.attn_q.weight}, {@code blk.N.ffn_down.weight}, ...). */
    public static Split splitOf(String tensorName) {
        String n = tensorName;
        if (n.endsWith("attn_q.weight") || n.endsWith("attn_k.weight") || n.endsWith("attn_v.weight")
                || n.endsWith("ffn_gate.weight") || n.endsWith("ffn_up.weight")) {
            return Split.OUTPUT;
        }
        if (n.endsWith("attn_output.weight") || n.endsWith("ffn_down.weight")) {
            return Split.INPUT;
        }
        return Split.REPLICATED;
    }

    /**
     * Device {@code device}'s part of tensor {@code name} of shape [rows x cols] stored as {@code type}.
     *
     * @throws IllegalArgumentException (one line) when the shape does not split evenly, or an input split would cut
     *         through a quantization block
     */
    public Shard shard(String name, TensorType type, long rows, int cols, int device) {
        if (device < 0 || device >= tp) {
            throw new IllegalArgumentException("device " + device + " out of range for tensor-parallel size " + tp);
        }
        return switch (splitOf(name)) {
            case REPLICATED -> new Shard(0, rows, 0, cols);
            case OUTPUT -> {
                if (rows % tp != 0) {
                    throw new IllegalArgumentException(name + ": " + rows + " output rows do not split " + tp + " ways");
                }
                long per = rows / tp;
                yield new Shard(device * per, per, 0, cols);
            }
            case INPUT -> {
                if (cols % tp != 0) {
                    throw new IllegalArgumentException(name + ": " + cols + " input columns do not split " + tp + " ways");
                }
                int per = cols / tp;
                if (per % type.blockSize != 0) {
                    throw new IllegalArgumentException(name + ": " + type + " blocks of " + type.blockSize
                            + " cannot split " + cols + " input columns " + tp + " ways (" + per + " per device)");
                }
                yield new Shard(0, rows, device * per, per);
            }
        };
    }

    /**
     * Byte ranges of the stored tensor (offsets from its first byte, {@code rowBytes} per row) that make up a shard,
     * in the order they are laid out on the device: {offset0, length0, offset1, length1, ...}. Whole rows are one
     * contiguous range; an input split is one range per row (rows x colCount elements, re-packed densely).
     */
    public static long[] sourceRanges(Shard s, TensorType type, long rowBytes) {
        long shardRowBytes = type.bytesFor(s.colCount());
        if (shardRowBytes == rowBytes) {
            return new long[] {s.rowStart() * rowBytes, s.rowCount() * rowBytes};
        }
        long colOffset = type.bytesFor(s.colStart());
        long[] ranges = new long[(int) (2 * s.rowCount())];
        for (int r = 0; r < s.rowCount(); r++) {
            ranges[2 * r] = (s.rowStart() + r) * rowBytes + colOffset;
            ranges[2 * r + 1] = shardRowBytes;
        }
        return ranges;
    }
}
