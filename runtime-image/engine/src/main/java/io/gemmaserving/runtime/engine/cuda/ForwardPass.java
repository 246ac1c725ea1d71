package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.model.GemmaConfig;

/**
 * Queues one pass of the Gemma forward pass on every rank's stream; nothing here waits for the device. The pass's
 * token ids, positions, sequence indices, logit rows and KV tables are already in each rank's step-layout buffer
 * ({@link StepLayout}), so the launches depend only on the token and logit-row counts: the same calls replay as a
 * CUDA graph for every decode step of that shape. Per block, as the CPU engine computes it (Gemma 1 lacks the post
 * norms, only Gemma 3 has the QK norm):
 * <pre>
 *   n = attnNorm(x); q, k, v = n.Wq, n.Wk, n.Wv; q, k = rope(qkNorm(q, k)); store k, v; a = attention(q)
 *   x += postAttnNorm(allReduce(a.Wo))
 *   m = ffnNorm(x); x += postFfwNorm(allReduce(geglu(m.Wgate, m.Wup).Wdown))
 * </pre>
 * then, on rank 0, logits = softcap(outputNorm(x[logit rows]) . embedding^T).
 */
final class ForwardPass {

    private final GemmaConfig cfg;
    private final ShardingPlan plan;
    private final Rank[] ranks;
    private final AllReduce allReduce;
    private final StepLayout.Offsets offsets;
    private final KvCacheType kv;

    /** @param kv how the KV caches store keys and values (the kernels that write and read them) */
    ForwardPass(GemmaConfig cfg, ShardingPlan plan, Rank[] ranks, AllReduce allReduce, StepLayout.Offsets offsets,
                KvCacheType kv) {
        this.kv = kv;
        this.cfg = cfg;
        this.plan = plan;
        this.ranks = ranks;
        this.allReduce = allReduce;
        this.offsets = offsets;
    }

    /** Queues a pass of {@code n} tokens of which {@code logitRows} want logits. */
    void enqueue(int n, int logitRows) {
        int hidden = cfg.hidden();
        for (Rank r : ranks) {
            r.makeCurrent();
            Workspace ws = r.workspace();
            long layout = r.layoutDevice();
            r.kernels().embed(r.stream(), r.weights().embedding(), layout + offsets.tokens(), n, cfg.embedScale(), ws.x());
        }
        for (int l = 0; l < cfg.layers(); l++) {
            for (Rank r : ranks) {
                attentionHalf(r, l, n);
            }
            reduce(Workspace::proj, (long) n * hidden);
            for (Rank r : ranks) {
                feedForwardHalf(r, l, n);
            }
            reduce(Workspace::proj, (long) n * hidden);
            for (Rank r : ranks) {
                r.makeCurrent();
                DeviceWeights.Layer L = r.weights().layers()[l];
                Workspace ws = r.workspace();
                if (L.postFfwNorm() != 0) {
                    r.kernels().rmsnorm(r.stream(), ws.proj(), L.postFfwNorm(), ws.proj(), n, hidden, cfg.rmsEps());
                }
                r.kernels().addInPlace(r.stream(), ws.x(), ws.proj(), (long) n * hidden);
            }
        }
        if (logitRows > 0) {
            Rank r = ranks[0];
            r.makeCurrent();
            Workspace ws = r.workspace();
            Kernels k = r.kernels();
            k.gatherRows(r.stream(), ws.x(), r.layoutDevice() + offsets.logit(), ws.logitIn(), logitRows, hidden);
            k.rmsnorm(r.stream(), ws.logitIn(), r.weights().outputNorm(), ws.logitIn(), logitRows, hidden, cfg.rmsEps());
            r.matmul().run(r.stream(), r.weights().embedding(), ws.logitIn(), ws.logits(), logitRows);
            k.softcap(r.stream(), ws.logits(), logitRows * r.weights().embedding().rows(), cfg.finalSoftCap());
        }
    }

    private void attentionHalf(Rank r, int l, int n) {
        r.makeCurrent();
        DeviceWeights.Layer L = r.weights().layers()[l];
        Workspace ws = r.workspace();
        Kernels k = r.kernels();
        var s = r.stream();
        int hd = cfg.headDim();
        int heads = plan.headsPerDevice();
        int kvHeads = plan.kvHeadsPerDevice();
        long layout = r.layoutDevice();
        long pos = layout + offsets.pos();
        long seq = layout + offsets.seq();
        k.rmsnorm(s, ws.x(), L.attnNorm(), ws.xb(), n, cfg.hidden(), cfg.rmsEps());
        r.matmul().run(s, L.q(), ws.xb(), ws.q(), n);
        r.matmul().run(s, L.k(), ws.xb(), ws.k(), n);
        r.matmul().run(s, L.v(), ws.xb(), ws.v(), n);
        if (L.qNorm() != 0) { // per-head RMSNorm: rows = tokens x heads, dim = head_dim
            k.rmsnorm(s, ws.q(), L.qNorm(), ws.q(), n * heads, hd, cfg.rmsEps());
            k.rmsnorm(s, ws.k(), L.kNorm(), ws.k(), n * kvHeads, hd, cfg.rmsEps());
        }
        k.rope(s, ws.q(), pos, n, heads, hd, cfg.ropeBase(l), cfg.ropeScale(l));
        k.rope(s, ws.k(), pos, n, kvHeads, hd, cfg.ropeBase(l), cfg.ropeScale(l));
        long kt = layout + offsets.kPtrRow(l);
        long vt = layout + offsets.vPtrRow(l);
        long ct = layout + offsets.capRow(l);
        k.kvStore(s, kv, ws.k(), ws.v(), kt, vt, ct, seq, pos, n, kvHeads * hd);
        k.attention(s, kv, ws.q(), kt, vt, ct, ws.att(), seq, pos, n, heads, kvHeads, hd,
                cfg.isLocal(l) ? cfg.slidingWindow() : 0, (float) (1.0 / Math.sqrt(cfg.queryPreAttnScalar())),
                cfg.attnSoftCap());
        r.matmul().run(s, L.o(), ws.att(), ws.proj(), n);
    }

    private void feedForwardHalf(Rank r, int l, int n) {
        r.makeCurrent();
        DeviceWeights.Layer L = r.weights().layers()[l];
        Workspace ws = r.workspace();
        Kernels k = r.kernels();
        var s = r.stream();
        int hidden = cfg.hidden();
        if (L.postAttnNorm() != 0) {
            k.rmsnorm(s, ws.proj(), L.postAttnNorm(), ws.proj(), n, hidden, cfg.rmsEps());
        }
        k.addInPlace(s, ws.x(), ws.proj(), (long) n * hidden);
        k.rmsnorm(s, ws.x(), L.ffnNorm(), ws.xb(), n, hidden, cfg.rmsEps());
        r.matmul().run(s, L.gate(), ws.xb(), ws.gate(), n);
        r.matmul().run(s, L.up(), ws.xb(), ws.up(), n);
        k.geglu(s, ws.gate(), ws.up(), ws.gate(), (long) n * plan.ffnPerDevice());
        r.matmul().run(s, L.down(), ws.gate(), ws.proj(), n);
    }

    private void reduce(java.util.function.Function<Workspace, Long> buffer, long count) {
        if (ranks.length > 1) {
            allReduce.sum(ranks, r -> buffer.apply(ranks[r].workspace()), count);
        }
    }
}
