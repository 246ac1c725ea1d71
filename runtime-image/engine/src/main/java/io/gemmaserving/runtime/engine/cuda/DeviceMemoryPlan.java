package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Where everything goes in one GPU's memory for a model split by a {@link ShardingPlan}: the weight shards in their
 * stored format (quantized blocks stay quantized), the KV cache per layer, and the activation workspace; every
 * region starts at a multiple of {@link #ALIGNMENT} bytes in one big allocation per device. The same arithmetic
 * answers "does it fit" before anything is allocated.
 *
 * <p>KV cache: keys and values of {@link KvCacheType#bytesPerValue} bytes (f16 by default, what the operator's sizing
 * assumes), per layer [maxSeqs][cap][kvHeads / tp][headDim] (the budget of maxSeqs
 * sequences of maxContext positions; each sequence's cache is its own allocation, {@link DeviceKvCache}). Global
 * layers have cap = maxContext; sliding-window layers a ring of {@link #ringSlots} slots: a prefill chunk of T tokens
 * is stored before its attention runs, so the ring must hold the window plus T - 1, and {@link #SPARE_SLOTS} more
 * keep a short rewind possible (a rejected draft), as the CPU cache's rings do.
 */
public final class DeviceMemoryPlan {

    /** Ring slots beyond window + chunk - 1: how far back a sequence can be truncated without losing its window. */
    public static final int SPARE_SLOTS = 32;
    /** Region alignment: 256 bytes, what cudaMalloc guarantees and what coalesced 128-byte loads like. */
    public static final long ALIGNMENT = 256;
    /** bf16 scratch for dequantized weight chunks fed to cuBLAS on large batches. */
    public static final long DEQUANT_SCRATCH_BYTES = 64L << 20;
    /** Types the CUDA kernels read (see common.cuh's dequant_elem). */
    public static final Set<TensorType> SUPPORTED = EnumSet.of(TensorType.F32, TensorType.F16, TensorType.BF16,
            TensorType.Q8_0, TensorType.Q4_0, TensorType.Q5_0, TensorType.Q4_K, TensorType.Q6_K);

    /** A weight as the plan needs it: name, format and shape. */
    public record TensorSpec(String name, TensorType type, long rows, int cols) {
        public static TensorSpec of(WeightTensor w) {
            return new TensorSpec(w.name(), w.type(), w.rows(), w.cols());
        }
    }

    /** One region of a device's allocation. */
    public record Region(String name, long offset, long bytes) {
    }

    /** Serving limits that size the KV cache and the workspace. */
    public record Limits(int maxContext, int maxSeqs, int prefillChunk, int maxBatchTokens) {
        public Limits {
            if (maxContext <= 0 || maxSeqs <= 0 || prefillChunk <= 0 || maxBatchTokens <= 0) {
                throw new IllegalArgumentException("serving limits must be positive: context=" + maxContext
                        + " seqs=" + maxSeqs + " chunk=" + prefillChunk + " batchTokens=" + maxBatchTokens);
            }
        }
    }

    private final List<Region> weights = new ArrayList<>();
    private final List<Region> kv = new ArrayList<>();
    private final int[] kvCapacity;
    private Region workspace;
    private long total;
    private final int device;

    private DeviceMemoryPlan(int device, int layers) {
        this.device = device;
        this.kvCapacity = new int[layers];
    }

    /**
     * The plan of device {@code device}.
     *
     * @throws IllegalArgumentException (one line) for a tensor type without a CUDA kernel or a shape that does not split
     */
    public static DeviceMemoryPlan of(ModelDims c, ShardingPlan sp, List<TensorSpec> tensors, Limits limits,
                                      KvCacheType kv, int device) {
        DeviceMemoryPlan p = new DeviceMemoryPlan(device, c.layers());
        long at = 0;
        for (TensorSpec t : tensors) {
            if (!SUPPORTED.contains(t.type())) {
                throw new IllegalArgumentException(t.name() + ": " + t.type() + " has no CUDA kernel (supported: "
                        + SUPPORTED + ")");
            }
            ShardingPlan.Shard s = sp.shard(t.name(), t.type(), t.rows(), t.cols(), device);
            long bytes = s.rowCount() * t.type().bytesFor(s.colCount());
            p.weights.add(new Region(t.name(), at, bytes));
            at = align(at + bytes);
        }
        long kvWidth = (long) sp.kvHeadsPerDevice() * c.headDim() * kv.bytesPerValue();
        for (int layer = 0; layer < c.layers(); layer++) {
            int cap = kvCapacity(c, layer, limits);
            p.kvCapacity[layer] = cap;
            long bytes = (long) limits.maxSeqs() * cap * kvWidth;
            p.kv.add(new Region("blk." + layer + ".k_cache", at, bytes));
            at = align(at + bytes);
            p.kv.add(new Region("blk." + layer + ".v_cache", at, bytes));
            at = align(at + bytes);
        }
        long ws = workspaceBytes(c, sp, limits);
        p.workspace = new Region("workspace", at, ws);
        p.total = align(at + ws);
        return p;
    }

    /** KV slots of {@code layer}: the whole context, or a sliding-window ring. */
    public static int kvCapacity(ModelDims c, int layer, Limits limits) {
        if (!c.isLocal(layer)) {
            return limits.maxContext();
        }
        return ringSlots(c.slidingWindow(), limits.prefillChunk(), limits.maxContext());
    }

    /**
     * Slots of a sliding-window ring for a sequence of {@code capacity} positions fed at most {@code chunk} tokens per
     * pass: window + chunk - 1 + {@link #SPARE_SLOTS}, never more than the capacity (then slot = position).
     */
    public static int ringSlots(int window, int chunk, int capacity) {
        return (int) Math.min(capacity, (long) window + chunk - 1 + SPARE_SLOTS);
    }

    /**
     * Activations for {@code maxBatchTokens} tokens in f32: residual and normed input (2 x hidden), q/k/v of this
     * device's heads, the attention output, gate and up of this device's FFN slice (2 x ffn/tp), the full-width
     * partial output before the all-reduce (hidden); logits for one token per sequence (vocab); bf16 copies of the
     * widest input for cuBLAS; and the dequantization scratch.
     */
    public static long workspaceBytes(ModelDims c, ShardingPlan sp, Limits limits) {
        long perToken = 2L * c.hidden()
                + (long) (2 * sp.headsPerDevice() + 2 * sp.kvHeadsPerDevice()) * c.headDim()
                + 2L * sp.ffnPerDevice()
                + c.hidden();
        long f32 = (long) limits.maxBatchTokens() * perToken + (long) limits.maxSeqs() * c.vocab();
        long bf16Inputs = (long) limits.maxBatchTokens() * Math.max(c.hidden(), Math.max(sp.ffnPerDevice(),
                sp.headsPerDevice() * c.headDim()));
        return f32 * Float.BYTES + bf16Inputs * 2 + DEQUANT_SCRATCH_BYTES;
    }

    static long align(long x) {
        return (x + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    public int device() {
        return device;
    }

    public List<Region> weights() {
        return List.copyOf(weights);
    }

    public List<Region> kvCache() {
        return List.copyOf(kv);
    }

    public int kvCapacity(int layer) {
        return kvCapacity[layer];
    }

    public Region workspace() {
        return workspace;
    }

    public long weightBytes() {
        return weights.stream().mapToLong(Region::bytes).sum();
    }

    public long kvBytes() {
        return kv.stream().mapToLong(Region::bytes).sum();
    }

    /** Bytes of the device's one allocation, alignment padding included. */
    public long totalBytes() {
        return total;
    }

    /** Whether the plan fits in {@code deviceMemory} bytes of which a fraction {@code utilization} may be used. */
    public boolean fits(long deviceMemory, double utilization) {
        if (utilization <= 0 || utilization > 1) {
            throw new IllegalArgumentException("utilization " + utilization + " is not in (0, 1]");
        }
        return total <= (long) (deviceMemory * utilization);
    }

    /** One line for logs and errors. */
    public String describe() {
        return String.format(Locale.ROOT, "device %d: %.2f GiB = weights %.2f GiB + KV cache %.2f GiB + workspace %.2f GiB",
                device, gib(total), gib(weightBytes()), gib(kvBytes()), gib(workspace.bytes()));
    }

    private static double gib(long b) {
        return b / (double) (1L << 30);
    }
}
