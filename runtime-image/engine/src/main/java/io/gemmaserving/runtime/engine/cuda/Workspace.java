package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.model.GemmaConfig;

/**
 * One rank's activation buffers for a pass of up to {@code maxTokens} tokens, carved out of one allocation (256-byte
 * aligned regions, addresses fixed for the engine's life so CUDA graphs may bake them in). f32 unless noted;
 * widths are this rank's (heads / tp, kvHeads / tp, ffn / tp):
 * <pre>
 *   x     [T x hidden]    residual stream (whole on every rank)
 *   xb    [T x hidden]    normed input of a projection
 *   proj  [T x hidden]    output of o / down (a partial sum before the all-reduce)
 *   q,att [T x qDim]      queries, attention output
 *   k,v   [T x kvDim]
 *   gate,up [T x ffn]
 *   half  u16 [T x max(hidden, qDim, ffn)]   activations as bf16/f16 for cuBLAS
 *   dequant u16 [DEQUANT_SCRATCH_BYTES / 2]  a quantized weight's rows as bf16 for cuBLAS (only with cuBLAS)
 *   logitIn [L x hidden], logits [L x vocab]  (L = max logit rows; logits on rank 0 only)
 *   gather [(tp - 1) x T x hidden]           peer partials for the all-reduce (rank 0, peer-copy all-reduce only)
 * </pre>
 */
public record Workspace(long x, long xb, long proj, long q, long att, long k, long v, long gate, long up, long half,
                        long dequant, long dequantBytes, long logitIn, long logits, long gather, long bytes) {

    /** Offsets from 0 (add the allocation's base with {@link #at}); {@code vocab}: the output head's rows. */
    public static Workspace layout(GemmaConfig cfg, int vocab, ShardingPlan sp, int maxTokens, int maxLogitRows, boolean rankZero,
                                   boolean withDequant, int gatherPeers) {
        long t = maxTokens;
        int qDim = sp.headsPerDevice() * cfg.headDim();
        int kvDim = sp.kvHeadsPerDevice() * cfg.headDim();
        int ffn = sp.ffnPerDevice();
        long[] at = {0};
        long x = region(at, 4 * t * cfg.hidden());
        long xb = region(at, 4 * t * cfg.hidden());
        long proj = region(at, 4 * t * cfg.hidden());
        long q = region(at, 4 * t * qDim);
        long att = region(at, 4 * t * qDim);
        long k = region(at, 4 * t * kvDim);
        long v = region(at, 4 * t * kvDim);
        long gate = region(at, 4 * t * ffn);
        long up = region(at, 4 * t * ffn);
        long half = region(at, 2 * t * Math.max(cfg.hidden(), Math.max(qDim, ffn)));
        long dqBytes = withDequant ? DeviceMemoryPlan.DEQUANT_SCRATCH_BYTES : 0;
        long dequant = region(at, dqBytes);
        long logitIn = region(at, 4L * maxLogitRows * cfg.hidden());
        long logits = region(at, rankZero ? 4L * maxLogitRows * vocab : 0);
        long gather = region(at, 4 * t * cfg.hidden() * gatherPeers);
        return new Workspace(x, xb, proj, q, att, k, v, gate, up, half, dequant, dqBytes, logitIn, logits, gather, at[0]);
    }

    private static long region(long[] at, long bytes) {
        long start = at[0];
        at[0] = DeviceMemoryPlan.align(start + bytes);
        return start;
    }

    /** The same layout at device address {@code base}. */
    public Workspace at(long base) {
        return new Workspace(base + x, base + xb, base + proj, base + q, base + att, base + k, base + v, base + gate,
                base + up, base + half, base + dequant, dequantBytes, base + logitIn, base + logits, base + gather, bytes);
    }
}
