package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.Driver;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernels of {@code /cuda/*.cu} loaded into one context, with one typed launch method each: the grid and block
 * shapes every kernel's comment asks for live here and nowhere else. Every method only queues work on the stream.
 * Pointers are device addresses; shapes are in elements.
 */
public final class Kernels implements AutoCloseable {

    /** matvec and matvec_bf16 keep this many batch rows in registers per block (quant.cu's MATVEC_MAX_BATCH). */
    public static final int MATVEC_BATCH = 8;
    private static final int ELEMENTWISE_BLOCK = 256;
    private static final int MAX_GRID = 65535;

    /**
     * Queues one launch of a kernel by name: {@code gx x gy} blocks of {@code block} threads, no dynamic shared
     * memory. On a GPU, {@code cuLaunchKernel}; the CPU tests run the kernels' own source on a CUDA emulation here.
     */
    interface Launcher {
        void launch(String kernel, int gx, int gy, int block, MemorySegment stream, KernelArgs args);
    }

    private final Driver cu;
    private final List<MemorySegment> modules = new ArrayList<>();
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final Launcher launcher;

    /** Loads every source's PTX (for compute capability {@code cc}) into the current context. */
    public Kernels(Driver cu, PtxSource source, int cc, System.Logger log) {
        this.cu = cu;
        this.launcher = this::launchOnDevice;
        for (Map.Entry<String, List<String>> e : KernelSources.ENTRIES.entrySet()) {
            MemorySegment module = load(source.ptx(e.getKey(), cc), e.getKey(), log);
            modules.add(module);
            for (String name : e.getValue()) {
                functions.put(name, cu.moduleGetFunction(module, name));
            }
        }
    }

    /** The same typed launches through {@code launcher} (no driver, no modules). */
    Kernels(Launcher launcher) {
        this.cu = null;
        this.launcher = launcher;
    }

    private MemorySegment load(String ptx, String file, System.Logger log) {
        try {
            return cu.moduleLoadPtx(ptx);
        } catch (CudaException e) {
            if (e.code() != 222) { // CUDA_ERROR_UNSUPPORTED_PTX_VERSION
                throw e;
            }
            String isa = PtxSource.isaForDriver(cu.driverVersion());
            log.log(System.Logger.Level.WARNING, file + ": the driver refuses this PTX version; retrying as PTX ISA " + isa);
            return cu.moduleLoadPtx(PtxSource.withIsaVersion(ptx, isa));
        }
    }

    private void launch(String kernel, int gx, int gy, int block, MemorySegment stream, KernelArgs args) {
        launcher.launch(kernel, gx, gy, block, stream, args);
    }

    private void launchOnDevice(String kernel, int gx, int gy, int block, MemorySegment stream, KernelArgs args) {
        try (Arena arena = Arena.ofConfined()) {
            cu.launchKernel(functions.get(kernel), gx, gy, 1, block, 1, 1, 0, stream, args.build(arena));
        }
    }

    private static int gridFor(long n) {
        return (int) Math.max(1, Math.min(MAX_GRID, (n + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK));
    }

    /** out [n x cols] = table[tokens[t]] * scale. */
    public void embed(MemorySegment s, DeviceTensor table, long tokens, int n, float scale, long out) {
        launch("embed", n, 1, 256, s, new KernelArgs().ptr(table.ptr()).i32(table.type().ggmlId).i64(table.rowBytes())
                .i32((int) table.rows()).i32(table.cols()).ptr(tokens).f32(scale).ptr(out));
    }

    /** out [rows x dim] = rmsnorm(x) * w (w holds any +1 already). In place allowed. */
    public void rmsnorm(MemorySegment s, long x, long w, long out, int rows, int dim, float eps) {
        launch("rmsnorm", rows, 1, 256, s, new KernelArgs().ptr(x).ptr(w).ptr(out).i32(dim).f32(eps).i32(0));
    }

    /** out [n x rows] = x [n x cols] . W^T with the weight in any supported format (dequantized per element). */
    public void matvec(MemorySegment s, DeviceTensor w, long x, long out, int n) {
        launch("matvec", (int) ((w.rows() + 3) / 4), (n + MATVEC_BATCH - 1) / MATVEC_BATCH, 128, s,
                new KernelArgs().ptr(w.ptr()).i32(w.type().ggmlId).i64(w.rowBytes()).i32((int) w.rows())
                        .i32(w.cols()).ptr(x).ptr(out).i32(n));
    }

    /** The same product for BF16 weights with 16-byte loads; {@code cols % 8 == 0}. */
    public void matvecBf16(MemorySegment s, DeviceTensor w, long x, long out, int n) {
        launch("matvec_bf16", (int) ((w.rows() + 3) / 4), (n + MATVEC_BATCH - 1) / MATVEC_BATCH, 128, s,
                new KernelArgs().ptr(w.ptr()).i32((int) w.rows()).i32(w.cols()).ptr(x).ptr(out).i32(n));
    }

    /** out bf16 [rows x cols] = W rows [row0, row0 + rows) dequantized. */
    public void dequantBf16(MemorySegment s, DeviceTensor w, int row0, int rows, long out) {
        launch("dequant_bf16", gridFor((long) rows * w.cols()), 1, ELEMENTWISE_BLOCK, s, new KernelArgs().ptr(w.ptr())
                .i32(w.type().ggmlId).i64(w.rowBytes()).i32(row0).i32(rows).i32(w.cols()).ptr(out));
    }

    /** NeoX RoPE in place on x [n x heads x headDim] at positions pos [n]. */
    public void rope(MemorySegment s, long x, long pos, int n, int heads, int headDim, float base, float scale) {
        launch("rope_neox", n * heads, 1, Math.min(1024, headDim / 2), s,
                new KernelArgs().ptr(x).ptr(pos).i32(heads).i32(headDim).f32(base).f32(scale));
    }

    /**
     * Stores k, v [n x width] (f32) into each token's sequence cache (tables: one layer's rows of the step layout),
     * as {@code kv} elements: f16 rounded to nearest even, or f32.
     */
    public void kvStore(MemorySegment s, KvCacheType kv, long k, long v, long kTable, long vTable, long capTable,
                        long seq, long pos, int n, int width) {
        launch(kv == KvCacheType.F16 ? "kv_store_f16" : "kv_store", n, 1, 256, s, new KernelArgs().ptr(k).ptr(v)
                .ptr(kTable).ptr(vTable).ptr(capTable).ptr(seq).ptr(pos).i32(width));
    }

    /** out [n x heads x headDim] = attention of q over each token's sequence cache of {@code kv} elements. */
    public void attention(MemorySegment s, KvCacheType kv, long q, long kTable, long vTable, long capTable, long out,
                          long seq, long pos, int n, int heads, int kvHeads, int headDim, int window, float scale,
                          float softcap) {
        launch(kv == KvCacheType.F16 ? "attention_f16" : "attention", heads, n, 128, s, new KernelArgs().ptr(q)
                .ptr(kTable).ptr(vTable).ptr(capTable).ptr(out).ptr(seq).ptr(pos).i32(heads).i32(kvHeads)
                .i32(headDim).i32(window).f32(scale).f32(softcap));
    }

    /** out = gelu_tanh(gate) * up over {@code count} elements (out may be gate). */
    public void geglu(MemorySegment s, long gate, long up, long out, long count) {
        launch("geglu", gridFor(count), 1, ELEMENTWISE_BLOCK, s, new KernelArgs().ptr(gate).ptr(up).ptr(out).i64(count));
    }

    /** x += y over {@code count} elements. */
    public void addInPlace(MemorySegment s, long x, long y, long count) {
        launch("add_inplace", gridFor(count), 1, ELEMENTWISE_BLOCK, s, new KernelArgs().ptr(x).ptr(y).i64(count));
    }

    /** x = cap * tanh(x / cap); nothing when cap <= 0. */
    public void softcap(MemorySegment s, long x, long count, float cap) {
        launch("softcap", gridFor(count), 1, ELEMENTWISE_BLOCK, s, new KernelArgs().ptr(x).i64(count).f32(cap));
    }

    /** out (bf16 or f16, as {@code type}) = x over {@code count} elements. */
    public void toHalf(MemorySegment s, TensorType type, long x, long out, long count) {
        launch(type == TensorType.F16 ? "to_f16" : "to_bf16", gridFor(count), 1, ELEMENTWISE_BLOCK, s,
                new KernelArgs().ptr(x).ptr(out).i64(count));
    }

    /** out [nRows x cols] = x[rows[i]]. */
    public void gatherRows(MemorySegment s, long x, long rows, long out, int nRows, int cols) {
        launch("gather_rows", nRows, 1, 256, s, new KernelArgs().ptr(x).ptr(rows).ptr(out).i32(cols));
    }

    /** out bf16 [count] uniform in [-scale, scale), a function of (index, seed). */
    public void fillRandomBf16(MemorySegment s, long out, long count, int seed, float scale) {
        launch("fill_random_bf16", gridFor(count), 1, ELEMENTWISE_BLOCK, s,
                new KernelArgs().ptr(out).i64(count).i32(seed).f32(scale));
    }

    /** out f32 [count] = center + uniform in [-scale, scale). */
    public void fillRandomF32(MemorySegment s, long out, long count, int seed, float center, float scale) {
        launch("fill_random_f32", gridFor(count), 1, ELEMENTWISE_BLOCK, s,
                new KernelArgs().ptr(out).i64(count).i32(seed).f32(center).f32(scale));
    }

    @Override
    public void close() {
        for (MemorySegment m : modules) {
            cu.moduleUnload(m);
        }
        modules.clear();
        functions.clear();
    }
}
