package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.model.GemmaConfig;
import io.gemmaserving.runtime.engine.model.GemmaWeights;
import io.gemmaserving.runtime.engine.tensor.AbstractTensor;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.lang.foreign.MemorySegment;

/**
 * One rank's weights in device memory: projections are this rank's shards ({@link ShardingPlan}) in their stored
 * format, the embedding (also the output head) is whole on every rank, norm weights are f32 with any {@code +1}
 * already applied (as {@link GemmaWeights} holds them). Norm pointers are 0 where the architecture has no such norm.
 */
public record DeviceWeights(DeviceTensor embedding, long outputNorm, Layer[] layers, long bytes) {

    /** One block's tensors on this rank; shapes as in {@link GemmaWeights.Layer}, projections sharded. */
    public record Layer(long attnNorm, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor o,
                        long qNorm, long kNorm, long postAttnNorm,
                        long ffnNorm, DeviceTensor gate, DeviceTensor up, DeviceTensor down, long postFfwNorm) {
    }

    /** How bytes reach this rank's memory. */
    public interface Uploader {
        /** Allocates {@code bytes} and fills them from {@code ranges} (offset/length pairs) of {@code source}. */
        long upload(MemorySegment source, long[] ranges, long bytes);

        /** Allocates and fills {@code values.length} floats. */
        long upload(float[] values);
    }

    /** How a synthetic model's weights are made on the device (random, by a kernel). */
    public interface Filler {
        long randomBf16(long count, int seed, float scale);

        long randomF32(long count, int seed, float center, float scale);
    }

    /**
     * Uploads {@code w}'s shards for rank {@code rank} of {@code plan}.
     *
     * @throws IllegalArgumentException (one line) for a tensor type without a CUDA kernel or a shape that does not
     *                                  split
     */
    public static DeviceWeights upload(GemmaConfig cfg, GemmaWeights w, ShardingPlan plan, int rank, Uploader up) {
        long[] bytes = {0};
        DeviceTensor embd = tensor("token_embd.weight", w.tokenEmbd(), plan, rank, up, bytes);
        Layer[] layers = new Layer[cfg.layers()];
        for (int i = 0; i < layers.length; i++) {
            GemmaWeights.Layer L = w.layers()[i];
            String p = "blk." + i + ".";
            layers[i] = new Layer(norm(L.attnNorm(), up, bytes),
                    tensor(p + "attn_q.weight", L.q(), plan, rank, up, bytes),
                    tensor(p + "attn_k.weight", L.k(), plan, rank, up, bytes),
                    tensor(p + "attn_v.weight", L.v(), plan, rank, up, bytes),
                    tensor(p + "attn_output.weight", L.o(), plan, rank, up, bytes),
                    norm(L.qNorm(), up, bytes), norm(L.kNorm(), up, bytes), norm(L.postAttnNorm(), up, bytes),
                    norm(L.ffnNorm(), up, bytes),
                    tensor(p + "ffn_gate.weight", L.gate(), plan, rank, up, bytes),
                    tensor(p + "ffn_up.weight", L.up(), plan, rank, up, bytes),
                    tensor(p + "ffn_down.weight", L.down(), plan, rank, up, bytes),
                    norm(L.postFfwNorm(), up, bytes));
        }
        return new DeviceWeights(embd, norm(w.outputNorm(), up, bytes), layers, bytes[0]);
    }

    /**
     * A model of {@code cfg}'s shape with BF16 projections and embedding, uniform random in +-sqrt(3 / cols) (unit
     * variance outputs for unit inputs) and norms near 1, made on the device: the decode benchmark's 9B model, with
     * nothing to read from disk or copy over PCIe.
     */
    public static DeviceWeights random(GemmaConfig cfg, ShardingPlan plan, int rank, Filler fill, int seed) {
        long[] bytes = {0};
        int[] next = {seed};
        int qDim = cfg.heads() * cfg.headDim();
        int kvDim = cfg.kvHeads() * cfg.headDim();
        DeviceTensor embd = random("token_embd.weight", cfg.vocab(), cfg.hidden(), plan, rank, fill, next, bytes);
        Layer[] layers = new Layer[cfg.layers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "blk." + i + ".";
            int h = cfg.hidden();
            layers[i] = new Layer(randomNorm(h, fill, next, bytes),
                    random(p + "attn_q.weight", qDim, h, plan, rank, fill, next, bytes),
                    random(p + "attn_k.weight", kvDim, h, plan, rank, fill, next, bytes),
                    random(p + "attn_v.weight", kvDim, h, plan, rank, fill, next, bytes),
                    random(p + "attn_output.weight", h, qDim, plan, rank, fill, next, bytes),
                    cfg.qkNorm() ? randomNorm(cfg.headDim(), fill, next, bytes) : 0,
                    cfg.qkNorm() ? randomNorm(cfg.headDim(), fill, next, bytes) : 0,
                    cfg.postNorms() ? randomNorm(h, fill, next, bytes) : 0,
                    randomNorm(h, fill, next, bytes),
                    random(p + "ffn_gate.weight", cfg.ffn(), h, plan, rank, fill, next, bytes),
                    random(p + "ffn_up.weight", cfg.ffn(), h, plan, rank, fill, next, bytes),
                    random(p + "ffn_down.weight", h, cfg.ffn(), plan, rank, fill, next, bytes),
                    cfg.postNorms() ? randomNorm(h, fill, next, bytes) : 0);
        }
        return new DeviceWeights(embd, randomNorm(cfg.hidden(), fill, next, bytes), layers, bytes[0]);
    }

    private static DeviceTensor tensor(String role, WeightTensor t, ShardingPlan plan, int rank, Uploader up, long[] bytes) {
        if (!(t instanceof AbstractTensor a)) {
            throw new IllegalArgumentException(t.name() + ": the CUDA engine needs the tensor's bytes ("
                    + t.getClass().getSimpleName() + " does not expose them)");
        }
        if (!DeviceMemoryPlan.SUPPORTED.contains(t.type())) {
            throw new IllegalArgumentException(t.name() + ": " + t.type() + " has no CUDA kernel (supported: "
                    + DeviceMemoryPlan.SUPPORTED + ")");
        }
        ShardingPlan.Shard s = plan.shard(role, t.type(), t.rows(), t.cols(), rank);
        long[] ranges = ShardingPlan.sourceRanges(s, t.type(), t.type().bytesFor(t.cols()));
        long n = s.rowCount() * t.type().bytesFor(s.colCount());
        long ptr = up.upload(a.data(), ranges, n);
        bytes[0] += n;
        return new DeviceTensor(role, ptr, t.type(), s.rowCount(), s.colCount());
    }

    private static long norm(float[] w, Uploader up, long[] bytes) {
        if (w == null) {
            return 0;
        }
        bytes[0] += 4L * w.length;
        return up.upload(w);
    }

    private static DeviceTensor random(String role, long rows, int cols, ShardingPlan plan, int rank, Filler fill,
                                       int[] seed, long[] bytes) {
        ShardingPlan.Shard s = plan.shard(role, TensorType.BF16, rows, cols, rank);
        long count = s.rowCount() * s.colCount();
        long ptr = fill.randomBf16(count, seed[0]++, (float) Math.sqrt(3.0 / cols));
        bytes[0] += 2 * count;
        return new DeviceTensor(role, ptr, TensorType.BF16, s.rowCount(), s.colCount());
    }

    private static long randomNorm(int n, Filler fill, int[] seed, long[] bytes) {
        bytes[0] += 4L * n;
        return fill.randomF32(n, seed[0]++, 1f, 0.1f);
    }
}
