package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.StepChecks;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.EngineUnavailableException;
import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.ModelInfo;
import io.gemmaserving.runtime.engine.cuda.bindings.Blas;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.cuda.bindings.Driver;
import io.gemmaserving.runtime.engine.cuda.bindings.Graphs;
import io.gemmaserving.runtime.engine.model.GemmaConfig;
import io.gemmaserving.runtime.engine.model.GemmaWeights;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The CUDA engine: the whole forward pass on the device behind the {@link Engine} seam. Weights are uploaded once
 * (pinned staging) and sharded over {@code tensorParallelSize} ranks; KV caches live on the device
 * ({@link DeviceKvCache}); a step's only traffic is its ids, positions and KV addresses in ({@link StepLayout}) and
 * the logits it asks for out. A step is cut into passes that fit the fixed buffers ({@link PassPlanner}); decode
 * passes replay CUDA graphs ({@link GraphPlan}) when there is one rank.
 *
 * <p>Ranks go to GPUs 0, 1, ... in order; with {@link Settings#shareDevices} more ranks than GPUs share them
 * round-robin (two ranks on two streams of one GPU: how tensor parallelism is checked on one GPU).
 *
 * <p>The host logic is unit-tested and the kernels run on the CPU emulation in every build; only
 * {@code hack/gpu-check.sh} runs it on a GPU (docs/status.md records what that has shown).
 */
public final class CudaEngine implements Engine {

    private static final System.Logger LOG = System.getLogger(CudaEngine.class.getName());

    /**
     * Engine limits and switches.
     *
     * @param maxTokensPerPass  tokens per device pass (workspace rows)
     * @param maxSeqsPerPass    sequences per pass (KV table columns)
     * @param maxChunk          tokens of one sequence per pass (sizes sliding-window rings)
     * @param maxLogitRows      logit rows per pass (the logits buffer is this x vocab floats)
     * @param graphs            replay decode passes from CUDA graphs (one rank only)
     * @param ptxDir            PTX compiled ahead of time; null: compile with NVRTC at start-up
     * @param shareDevices      allow more ranks than GPUs (round-robin); off in serving
     */
    public record Settings(int maxTokensPerPass, int maxSeqsPerPass, int maxChunk, int maxLogitRows, boolean graphs,
                           Path ptxDir, boolean shareDevices) {
        public static Settings defaults() {
            return new Settings(512, 64, 512, 64, true, null, false);
        }

        public Settings withPtxDir(Path dir) {
            return new Settings(maxTokensPerPass, maxSeqsPerPass, maxChunk, maxLogitRows, graphs, dir, shareDevices);
        }

        PassPlanner.Limits passLimits() {
            return new PassPlanner.Limits(maxTokensPerPass, maxSeqsPerPass, maxChunk, maxLogitRows);
        }
    }

    private final Driver cu;
    private final GemmaConfig cfg;
    private final ModelInfo info;
    private final GemmaTokenizer tokenizer;
    private final AutoCloseable files;
    private final Settings settings;
    private final ShardingPlan plan;
    private final Rank[] ranks;
    private final AllReduce allReduce;
    private final StepLayout.Offsets offsets;
    private final ForwardPass forward;
    private final Graphs graphApi;
    private final GraphPlan graphPlan;
    private final Map<GraphPlan.Shape, MemorySegment> graphs = new HashMap<>();
    private final int[] window;
    private final KvMemory kvMemory = new KvMemory();
    /** How the KV caches store keys and values: f16 by default (EngineOptions), as the CPU engine. */
    private final KvCacheType kv;
    private final String description;

    /** Loads {@code model} onto the device(s); the caller has checked that CUDA is usable. */
    public static Engine open(Path model, EngineOptions options) throws IOException {
        return open(model, options, Settings.defaults());
    }

    public static CudaEngine open(Path model, EngineOptions options, Settings settings) throws IOException {
        return open(model, options, settings, CudaApis.load(settings.ptxDir()));
    }

    /** As {@link #open(Path, EngineOptions, Settings)} on the given libraries (a host emulation in the tests). */
    static CudaEngine open(Path model, EngineOptions options, Settings settings, CudaApis apis) throws IOException {
        ModelLoader.Bound b = ModelLoader.bind(model);
        try {
            long t0 = System.nanoTime();
            CudaEngine e = new CudaEngine(apis, b.name(), b.config(), b.tokenizer(), b.files(), options.tensorParallelSize(),
                    options.kvCacheType(), settings, (rank, sp) -> DeviceWeights.upload(b.config(), b.weights(), sp, rank.index(), rank.uploader()),
                    b.weights().bytes(), tensorSpecs(b.config(), b.weights()));
            LOG.log(Level.INFO, String.format(Locale.ROOT, "Loaded %s onto the GPU in %.2f s: %s", b.name(),
                    (System.nanoTime() - t0) / 1e9, e.description));
            return e;
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }

    /**
     * A model of {@code cfg}'s shape with random BF16 weights made on the device (the decode benchmark: nothing to
     * read or copy). No tokenizer.
     */
    public static CudaEngine synthetic(String name, GemmaConfig cfg, int tensorParallelSize, Settings settings, int seed) {
        return synthetic(name, cfg, tensorParallelSize, settings, seed, CudaApis.load(settings.ptxDir()));
    }

    static CudaEngine synthetic(String name, GemmaConfig cfg, int tensorParallelSize, Settings settings, int seed,
                                CudaApis apis) {
        return new CudaEngine(apis, name, cfg, null, null, tensorParallelSize, KvCacheType.F16, settings,
                (rank, sp) -> DeviceWeights.random(cfg, sp, rank.index(), rank.filler(), seed), bf16Bytes(cfg),
                tensorSpecs(cfg, null));
    }

    /** Bytes of {@code cfg}'s embedding and projections in BF16 (what one decode step reads), norms left out. */
    public static long bf16Bytes(GemmaConfig cfg) {
        long qDim = (long) cfg.heads() * cfg.headDim();
        long kvDim = (long) cfg.kvHeads() * cfg.headDim();
        long perLayer = cfg.hidden() * (2 * qDim + 2 * kvDim + 3L * cfg.ffn());
        return 2 * ((long) cfg.vocab() * cfg.hidden() + cfg.layers() * perLayer);
    }

    /** Makes one rank's weights. */
    private interface WeightMaker {
        DeviceWeights make(Rank rank, ShardingPlan plan);
    }

    private CudaEngine(CudaApis apis, String name, GemmaConfig cfg, GemmaTokenizer tokenizer, AutoCloseable files, int tp,
                       KvCacheType kv, Settings settings, WeightMaker weights, long weightBytes,
                       List<DeviceMemoryPlan.TensorSpec> tensors) {
        this.kv = kv;
        this.cfg = cfg;
        this.tokenizer = tokenizer;
        this.files = files;
        this.settings = settings;
        this.cu = apis.driver();
        int devices = cu.deviceCount();
        if (tp > devices && !settings.shareDevices()) {
            throw new EngineUnavailableException("--tensor-parallel-size " + tp + " needs " + tp + " GPUs, "
                    + devices + " visible");
        }
        this.plan = ShardingPlan.of(dims(cfg), tp);
        PtxSource ptx = apis.ptx();
        Blas cublas = apis.blas();
        this.offsets = StepLayout.Offsets.of(settings.maxTokensPerPass(), settings.maxSeqsPerPass(),
                settings.maxLogitRows(), cfg.layers());
        this.window = new int[cfg.layers()];
        for (int l = 0; l < window.length; l++) {
            window[l] = cfg.isLocal(l) ? cfg.slidingWindow() : 0;
        }
        this.ranks = new Rank[tp];
        List<Rank> opened = new ArrayList<>();
        try {
            for (int r = 0; r < tp; r++) {
                ranks[r] = new Rank(cu, r, r % devices, ptx, cublas, LOG);
                opened.add(ranks[r]);
            }
            checkFits(tensors);
            long totalWeights = 0;
            for (Rank r : ranks) {
                r.makeCurrent();
                r.setWeights(weights.make(r, plan));
                totalWeights += r.weights().bytes();
                boolean quantized = cublas != null && hasQuantized(r.weights());
                int vocab = Math.toIntExact(r.weights().embedding().rows());
                Workspace ws = Workspace.layout(cfg, vocab, plan, settings.maxTokensPerPass(), settings.maxLogitRows(),
                        r.index() == 0, quantized, r.index() == 0 && tp > 1 ? tp - 1 : 0);
                r.allocateBuffers(ws, offsets, r.index() == 0 ? 4L * settings.maxLogitRows() * vocab : 0);
            }
            for (Rank r : ranks) {
                r.makeCurrent();
                r.synchronize(); // uploads and fills done before the first step
            }
            this.allReduce = tp == 1 ? null : allReduceFor(ranks, apis);
            this.forward = new ForwardPass(cfg, plan, ranks, allReduce, offsets, kv);
            this.graphApi = tp == 1 && settings.graphs() ? apis.graphs() : null;
            this.graphPlan = new GraphPlan(graphApi != null, Matmul.MATVEC_MAX_ROWS, 8);
            long shown = weightBytes > 0 ? weightBytes : totalWeights;
            int vocab = Math.toIntExact(ranks[0].weights().embedding().rows());
            this.info = new ModelInfo(name, cfg.architecture(), cfg.contextLength(), vocab, cfg.kvBytesPerToken(kv), shown);
            this.description = String.format(Locale.ROOT, "cuda (%d rank%s on %s; %s; %s; %s; %s)", tp,
                    tp == 1 ? "" : "s", describeDevices(devices), ptx.describe(),
                    cublas != null ? "cuBLAS for prefill" : "no cuBLAS: prefill on the matvec kernels",
                    allReduce == null ? "no all-reduce" : allReduce.describe(),
                    graphApi != null ? "CUDA graphs for decode" : "no CUDA graphs");
        } catch (RuntimeException e) {
            for (Rank r : opened) {
                try {
                    r.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    static ModelDims dims(GemmaConfig c) {
        return new ModelDims(c.hidden(), c.layers(), c.heads(), c.kvHeads(), c.headDim(), c.ffn(), c.vocab(),
                c.slidingWindow(), c.localLayers());
    }

    private static boolean hasQuantized(DeviceWeights w) {
        if (!isFloat(w.embedding())) {
            return true;
        }
        for (DeviceWeights.Layer L : w.layers()) {
            for (DeviceTensor t : List.of(L.q(), L.k(), L.v(), L.o(), L.gate(), L.up(), L.down())) {
                if (!isFloat(t)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static boolean isFloat(DeviceTensor t) {
        return switch (t.type()) {
            case F32, F16, BF16 -> true;
            default -> false;
        };
    }

    private AllReduce allReduceFor(Rank[] rs, CudaApis apis) {
        boolean distinct = true;
        for (int i = 0; i < rs.length; i++) {
            for (int j = i + 1; j < rs.length; j++) {
                distinct &= rs[i].ordinal() != rs[j].ordinal();
            }
        }
        if (distinct) {
            try {
                int[] ordinals = new int[rs.length];
                for (int i = 0; i < rs.length; i++) {
                    ordinals[i] = rs[i].ordinal();
                }
                return new AllReduce.NcclAllReduce(cu, apis.nccl().get(), ordinals);
            } catch (CudaException e) {
                LOG.log(Level.INFO, "NCCL unavailable (" + e.getMessage() + "): peer-copy all-reduce");
            }
            for (Rank a : rs) {
                for (Rank b : rs) {
                    if (a != b && cu.canAccessPeer(cu.device(a.ordinal()), cu.device(b.ordinal()))) {
                        a.makeCurrent();
                        cu.ctxEnablePeerAccess(b.ctx());
                    }
                }
            }
        }
        return new AllReduce.PeerAllReduce(cu);
    }

    /**
     * Refuses, in one line, a model that does not fit the first GPU: its {@link DeviceMemoryPlan} (weight shards,
     * the KV cache of one sequence of the full context up to 8192 positions, the workspace) for every rank placed on
     * it, against 90 % of its free memory.
     */
    private void checkFits(List<DeviceMemoryPlan.TensorSpec> tensors) {
        ranks[0].makeCurrent();
        long[] freeTotal = cu.memGetInfo();
        DeviceMemoryPlan.Limits limits = new DeviceMemoryPlan.Limits(Math.min(cfg.contextLength(), 8192), 1,
                settings.maxChunk(), settings.maxTokensPerPass());
        DeviceMemoryPlan p = DeviceMemoryPlan.of(dims(cfg), plan, tensors, limits, kv, 0);
        int ranksOnDevice0 = (plan.tp() + cu.deviceCount() - 1) / cu.deviceCount();
        long need = p.totalBytes() * ranksOnDevice0;
        LOG.log(Level.INFO, p.describe() + (ranksOnDevice0 > 1 ? " (x" + ranksOnDevice0 + " ranks on it)" : ""));
        if (need > (long) (freeTotal[0] * 0.9)) {
            throw new EngineUnavailableException(String.format(Locale.ROOT,
                    "the model does not fit the GPU: it needs %.2f GiB (%s), %.2f GiB of %.2f GiB are free",
                    need / GIB, p.describe(), freeTotal[0] / GIB, freeTotal[1] / GIB));
        }
    }

    /** The plan's view of a model's tensors: GGUF names, stored types, shapes ({@code w} null: all BF16). */
    static List<DeviceMemoryPlan.TensorSpec> tensorSpecs(GemmaConfig c, GemmaWeights w) {
        List<DeviceMemoryPlan.TensorSpec> t = new ArrayList<>();
        int qDim = c.heads() * c.headDim();
        int kvDim = c.kvHeads() * c.headDim();
        t.add(spec("token_embd.weight", w == null ? null : w.tokenEmbd(), c.vocab(), c.hidden()));
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            var L = w == null ? null : w.layers()[i];
            t.add(spec(p + "attn_q.weight", L == null ? null : L.q(), qDim, c.hidden()));
            t.add(spec(p + "attn_k.weight", L == null ? null : L.k(), kvDim, c.hidden()));
            t.add(spec(p + "attn_v.weight", L == null ? null : L.v(), kvDim, c.hidden()));
            t.add(spec(p + "attn_output.weight", L == null ? null : L.o(), c.hidden(), qDim));
            t.add(spec(p + "ffn_gate.weight", L == null ? null : L.gate(), c.ffn(), c.hidden()));
            t.add(spec(p + "ffn_up.weight", L == null ? null : L.up(), c.ffn(), c.hidden()));
            t.add(spec(p + "ffn_down.weight", L == null ? null : L.down(), c.hidden(), c.ffn()));
            // four norms of hidden floats (two on Gemma 1), QK norms are head_dim: counted as one f32 row of 4 x hidden
            t.add(new DeviceMemoryPlan.TensorSpec(p + "norms", TensorType.F32, 1,
                    4 * c.hidden()));
        }
        return t;
    }

    private static DeviceMemoryPlan.TensorSpec spec(String name, WeightTensor t,
                                                    long rows, int cols) {
        return t == null
                ? new DeviceMemoryPlan.TensorSpec(name, TensorType.BF16, rows, cols)
                : new DeviceMemoryPlan.TensorSpec(name, t.type(), t.rows(), t.cols());
    }

    private static final double GIB = 1L << 30;

    private String describeDevices(int devices) {
        int used = Math.min(devices, plan.tp());
        return used + " GPU" + (used == 1 ? "" : "s") + " (" + cu.deviceName(cu.device(0)) + ")";
    }

    // ---------------------------------------------------------------------------------------------------------
    // Engine

    @Override
    public ModelInfo info() {
        return info;
    }

    @Override
    public GemmaTokenizer tokenizer() {
        if (tokenizer == null) {
            throw new IllegalStateException("model " + info.name() + " has no tokenizer");
        }
        return tokenizer;
    }

    @Override
    public String description() {
        return description;
    }

    /** CUDA graphs captured so far (decode shapes). */
    public int graphCount() {
        return graphPlan.graphs();
    }

    @Override
    public DeviceKvCache newKvCache(int maxTokens) {
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("KV cache size must be positive, got " + maxTokens);
        }
        kvMemory.drain();
        DeviceKvCache.Layout[] layouts = new DeviceKvCache.Layout[ranks.length];
        for (int r = 0; r < ranks.length; r++) {
            layouts[r] = DeviceKvCache.Layout.of(window, maxTokens, settings.maxChunk(),
                    plan.kvHeadsPerDevice() * cfg.headDim(), kv.bytesPerValue());
        }
        return new DeviceKvCache(this, kvMemory, maxTokens, window, layouts);
    }

    @Override
    public float[][] step(List<Step> steps) {
        kvMemory.drain();
        int n = steps.size();
        DeviceKvCache[] caches = StepChecks.caches(steps, DeviceKvCache.class, c -> c.owner == this,
                info.vocabSize(), DeviceKvCache[]::new);
        List<PassPlanner.StepShape> shapes = new ArrayList<>(n);
        List<int[]> tokens = new ArrayList<>(n);
        List<Logits> wanted = new ArrayList<>(n);
        for (int s = 0; s < n; s++) {
            Step st = steps.get(s);
            shapes.add(new PassPlanner.StepShape(st.position(), st.tokens().length, st.logits()));
            tokens.add(st.tokens());
            wanted.add(st.logits());
        }
        for (int s = 0; s < n; s++) {
            caches[s].truncate(steps.get(s).position());
        }
        int vocab = info.vocabSize();
        float[][] result = new float[n][];
        for (int s = 0; s < n; s++) {
            result[s] = switch (wanted.get(s)) {
                case NONE -> null;
                case LAST -> new float[vocab];
                case ALL -> new float[tokens.get(s).length * vocab];
            };
        }
        for (PassPlanner.Pass pass : PassPlanner.plan(shapes, settings.passLimits())) {
            run(pass, tokens, wanted, caches, result);
            for (PassPlanner.Piece p : pass.pieces()) {
                caches[p.step()].length = p.position() + p.count();
            }
        }
        return result;
    }

    /** One pass: layouts up, kernels (eager, captured or replayed), logits down, results scattered. */
    private void run(PassPlanner.Pass pass, List<int[]> tokens, List<Logits> wanted, DeviceKvCache[] caches,
                     float[][] result) {
        for (Rank r : ranks) {
            int rank = r.index();
            StepLayout.fill(r.layoutHost(), offsets, pass, tokens, new StepLayout.KvSlots() {
                @Override
                public long keys(int step, int layer) {
                    return caches[step].keys(rank, layer);
                }

                @Override
                public long values(int step, int layer) {
                    return caches[step].values(rank, layer);
                }

                @Override
                public int slots(int step, int layer) {
                    return caches[step].slots(layer);
                }
            });
            r.makeCurrent();
            r.uploadLayout(offsets.bytes());
        }
        int nTok = pass.tokens();
        int nl = pass.logitRows();
        Rank r0 = ranks[0];
        switch (graphPlan.decide(pass)) {
            case EAGER -> forward.enqueue(nTok, nl);
            case REPLAY -> {
                r0.makeCurrent();
                graphApi.launch(graphs.get(new GraphPlan.Shape(nTok, nl)), r0.stream());
            }
            case CAPTURE -> {
                r0.makeCurrent();
                MemorySegment exec;
                try {
                    graphApi.beginCapture(r0.stream());
                    try {
                        forward.enqueue(nTok, nl);
                    } finally {
                        exec = graphApi.endCaptureAndInstantiate(r0.stream());
                    }
                    graphs.put(new GraphPlan.Shape(nTok, nl), exec);
                    graphPlan.captured(pass);
                    graphApi.launch(exec, r0.stream());
                } catch (CudaException e) {
                    LOG.log(Level.WARNING, "CUDA graph capture of a " + nTok + "-token decode pass failed ("
                            + e.getMessage() + "); that shape runs eagerly");
                    graphPlan.failed(pass);
                    forward.enqueue(nTok, nl);
                }
            }
        }
        if (nl > 0) {
            r0.makeCurrent();
            r0.downloadLogits((long) nl * info.vocabSize());
        }
        for (Rank r : ranks) {
            r.makeCurrent();
            r.synchronize();
        }
        StepLayout.LogitTarget[] targets = StepLayout.logitTargets(pass, wanted);
        int vocab = info.vocabSize();
        for (int i = 0; i < targets.length; i++) {
            float[] row = r0.logitsRow(i, vocab);
            System.arraycopy(row, 0, result[targets[i].step()], targets[i].row() * vocab, vocab);
        }
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        try {
            kvMemory.drain();
            if (graphApi != null) {
                ranks[0].makeCurrent();
                for (MemorySegment g : graphs.values()) {
                    graphApi.destroy(g);
                }
                graphs.clear();
            }
            if (allReduce != null) {
                allReduce.close();
            }
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Rank r : ranks) {
            try {
                r.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (files != null) {
            try {
                files.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new IllegalStateException("closing " + info.name() + ": " + e.getMessage(), e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * KV memory on the ranks: allocations and copies on the engine's thread; releases from the cleaner are queued
     * and freed by {@link #drain} at the next step, so the driver is only ever called from the engine's thread.
     * A cache still alive at close is freed with the context (primary context release frees its memory).
     */
    private final class KvMemory implements DeviceKvCache.KvMemory {
        private final ConcurrentLinkedQueue<long[]> released = new ConcurrentLinkedQueue<>();

        @Override
        public int ranks() {
            return ranks.length;
        }

        @Override
        public long alloc(int rank, long bytes) {
            ranks[rank].makeCurrent();
            try {
                return ranks[rank].allocOwned(bytes);
            } catch (CudaException e) {
                if (e.code() != 2) { // CUDA_ERROR_OUT_OF_MEMORY: collect dropped caches once and retry
                    throw e;
                }
                System.gc();
                drainAfterGc();
                ranks[rank].makeCurrent();
                return ranks[rank].allocOwned(bytes);
            }
        }

        private void drainAfterGc() {
            try {
                Thread.sleep(50); // the cleaner thread runs the release actions
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            drain();
        }

        @Override
        public void copy(int rank, long dst, long src, long bytes) {
            ranks[rank].makeCurrent();
            cu.memcpyDtoDAsync(dst, src, bytes, ranks[rank].stream());
        }

        @Override
        public void release(long[] bases) {
            released.add(bases);
        }

        void drain() {
            long[] bases;
            while ((bases = released.poll()) != null) {
                for (int r = 0; r < bases.length; r++) {
                    ranks[r].makeCurrent();
                    ranks[r].synchronize(); // no pass may still read it
                    ranks[r].free(bases[r]);
                }
            }
        }
    }
}
