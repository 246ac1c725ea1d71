package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Blas;
import io.gemmaserving.runtime.engine.cuda.bindings.Cublas;
import io.gemmaserving.runtime.engine.cuda.bindings.Driver;
import io.gemmaserving.runtime.engine.cuda.bindings.Graphs;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.Tensors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Test support: the CUDA driver, cuBLAS and graphs emulated on the host, so the whole {@link CudaEngine} (pass
 * planning, step layouts, KV tables, sharding, all-reduce, graph capture and replay, every launch's arguments) runs
 * in a unit test. Device memory is native memory with bounds-checked lookups (an address outside every allocation
 * fails the test); streams run their work at once, in order; a captured stream records launches and a graph launch
 * replays them. Each kernel is re-implemented here from its contract (the comments in /cuda/*.cu), decoding its
 * {@code void**} parameters by the kernel's C signature, so a wrong argument order or type shows up as wrong logits.
 * The CUDA kernels themselves are not run here (the *KernelsEmuTest classes run them on {@link CudaEmulator}); this
 * checks the host side.
 */
final class HostCuda implements Driver, Blas, Graphs {

    /** Each kernel's C parameter types in order: p pointer, i int, l long long, f float. */
    static final Map<String, String> SIGNATURES = Map.ofEntries(
            Map.entry("embed", "piliipfp"),
            Map.entry("rmsnorm", "pppifi"),
            Map.entry("matvec", "piliippi"),
            Map.entry("matvec_bf16", "piippi"),
            Map.entry("dequant_bf16", "piliiip"),
            Map.entry("rope_neox", "ppiiff"),
            Map.entry("kv_store", "pppppppi"),
            Map.entry("kv_store_f16", "pppppppi"),
            Map.entry("attention", "pppppppiiiiff"),
            Map.entry("attention_f16", "pppppppiiiiff"),
            Map.entry("geglu", "pppl"),
            Map.entry("add_inplace", "ppl"),
            Map.entry("softcap", "plf"),
            Map.entry("to_bf16", "ppl"),
            Map.entry("to_f16", "ppl"),
            Map.entry("gather_rows", "pppi"),
            Map.entry("fill_random_bf16", "plif"),
            Map.entry("fill_random_f32", "pliff"));

    private final Arena arena = Arena.ofShared();
    private final TreeMap<Long, MemorySegment> device = new TreeMap<>();
    private final Map<Long, String> functions = new HashMap<>();
    private final Map<Long, List<Runnable>> graphs = new HashMap<>();
    private List<Runnable> capture;
    private long handles = 0x1000;
    int launches;
    int graphLaunches;

    private MemorySegment handle() {
        return MemorySegment.ofAddress(handles += 16);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Memory

    /** The bytes at device address {@code p}, {@code n} long, inside one allocation. */
    MemorySegment dev(long p, long n) {
        MemorySegment last = recent;
        if (last != null && p >= last.address() && n >= 0 && p + n <= last.address() + last.byteSize()) {
            return last.asSlice(p - last.address(), n);
        }
        Map.Entry<Long, MemorySegment> e = device.floorEntry(p);
        if (e == null || p + n > e.getKey() + e.getValue().byteSize() || n < 0) {
            throw new AssertionError("device access [" + Long.toHexString(p) + ", +" + n + ") outside every allocation");
        }
        recent = e.getValue();
        return e.getValue().asSlice(p - e.getKey(), n);
    }

    /** The allocation the last access hit (most accesses stay in one buffer). */
    private MemorySegment recent;

    float f(long p, long i) {
        long a = p + 4 * i;
        MemorySegment last = recent;
        if (last != null && a >= last.address() && a + 4 <= last.address() + last.byteSize()) {
            return last.get(ValueLayout.JAVA_FLOAT, a - last.address());
        }
        return dev(a, 4).get(ValueLayout.JAVA_FLOAT, 0);
    }

    void setF(long p, long i, float v) {
        long a = p + 4 * i;
        MemorySegment last = recent;
        if (last != null && a >= last.address() && a + 4 <= last.address() + last.byteSize()) {
            last.set(ValueLayout.JAVA_FLOAT, a - last.address(), v);
            return;
        }
        dev(a, 4).set(ValueLayout.JAVA_FLOAT, 0, v);
    }

    int i32(long p, long i) {
        return dev(p + 4 * i, 4).get(ValueLayout.JAVA_INT, 0);
    }

    long i64(long p, long i) {
        return dev(p + 8 * i, 8).get(ValueLayout.JAVA_LONG, 0);
    }

    short u16(long p, long i) {
        return dev(p + 2 * i, 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0);
    }

    void setU16(long p, long i, short v) {
        dev(p + 2 * i, 2).set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, v);
    }

    @Override
    public long memAlloc(long bytes) {
        MemorySegment m = arena.allocate(bytes, 256);
        device.put(m.address(), m);
        return m.address();
    }

    @Override
    public void memFree(long p) {
        recent = null;
        if (device.remove(p) == null) {
            throw new AssertionError("cuMemFree of " + Long.toHexString(p) + ", not an allocation");
        }
    }

    public int allocations() {
        return device.size();
    }

    @Override
    public long[] memGetInfo() {
        return new long[] {7L << 30, 8L << 30};
    }

    @Override
    public MemorySegment memHostAlloc(long bytes, int flags) {
        return arena.allocate(bytes, 256);
    }

    @Override
    public void memFreeHost(MemorySegment host) {
    }

    @Override
    public void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        MemorySegment.copy(src, 0, dev(dst, bytes), 0, bytes);
    }

    @Override
    public void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        MemorySegment.copy(dev(src, bytes), 0, dst, 0, bytes);
    }

    @Override
    public void memcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        MemorySegment.copy(dev(src, bytes), 0, dev(dst, bytes), 0, bytes);
    }

    @Override
    public void memcpyPeerAsync(long dst, MemorySegment dstCtx, long src, MemorySegment srcCtx, long bytes, MemorySegment stream) {
        memcpyDtoDAsync(dst, src, bytes, stream);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Devices, contexts, streams, events: one device, work runs at once

    @Override public void init() { }
    @Override public int driverVersion() { return 12040; }
    @Override public int deviceCount() { return 1; }
    @Override public int device(int ordinal) { return ordinal; }
    @Override public String deviceName(int device) { return "host emulation"; }
    @Override public int computeCapability(int device) { return 90; }
    @Override public boolean canAccessPeer(int device, int peer) { return false; }
    @Override public MemorySegment primaryCtxRetain(int device) { return MemorySegment.ofAddress(0x10); }
    @Override public void primaryCtxRelease(int device) { }
    @Override public void ctxSetCurrent(MemorySegment ctx) { }
    @Override public void ctxEnablePeerAccess(MemorySegment peer) { }
    @Override public MemorySegment streamCreate(int flags) { return handle(); }
    @Override public void streamSynchronize(MemorySegment stream) { }
    @Override public void streamDestroy(MemorySegment stream) { }
    @Override public void streamWaitEvent(MemorySegment stream, MemorySegment event) { }
    @Override public MemorySegment eventCreate(int flags) { return handle(); }
    @Override public void eventRecord(MemorySegment event, MemorySegment stream) { }
    @Override public void eventSynchronize(MemorySegment event) { }
    @Override public void eventDestroy(MemorySegment event) { }
    @Override public MemorySegment moduleLoadPtx(String ptx) { return handle(); }
    @Override public void moduleUnload(MemorySegment module) { }

    @Override
    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        if (!SIGNATURES.containsKey(name)) {
            throw new AssertionError("no emulation of kernel " + name);
        }
        MemorySegment h = handle();
        functions.put(h.address(), name);
        return h;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Launches and graphs

    @Override
    public void launchKernel(MemorySegment function, int gx, int gy, int gz, int bx, int by, int bz, int shared,
                             MemorySegment stream, MemorySegment params) {
        String name = functions.get(function.address());
        String sig = SIGNATURES.get(name);
        MemorySegment ptrs = params.reinterpret(8L * sig.length());
        Object[] a = new Object[sig.length()];
        for (int i = 0; i < sig.length(); i++) { // the values are copied now, as cuLaunchKernel does
            MemorySegment v = ptrs.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(8);
            a[i] = switch (sig.charAt(i)) {
                case 'p', 'l' -> v.get(ValueLayout.JAVA_LONG, 0);
                case 'i' -> v.get(ValueLayout.JAVA_INT, 0);
                default -> v.get(ValueLayout.JAVA_FLOAT, 0);
            };
        }
        Runnable run = () -> {
            launches++;
            HostKernels.run(this, name, gx, gy, a);
        };
        if (capture != null) {
            capture.add(run);
        } else {
            run.run();
        }
    }

    @Override
    public void beginCapture(MemorySegment stream) {
        capture = new ArrayList<>();
    }

    @Override
    public MemorySegment endCaptureAndInstantiate(MemorySegment stream) {
        MemorySegment h = handle();
        graphs.put(h.address(), capture);
        capture = null;
        return h;
    }

    @Override
    public void launch(MemorySegment exec, MemorySegment stream) {
        graphLaunches++;
        graphs.get(exec.address()).forEach(Runnable::run);
    }

    /** Blas.destroy (a handle) and Graphs.destroy (an executable graph) share this. */
    @Override
    public void destroy(MemorySegment handleOrGraph) {
        graphs.remove(handleOrGraph.address());
    }

    // ---------------------------------------------------------------------------------------------------------
    // cuBLAS: column-major GemmEx on f32 / f16 / bf16 inputs, f32 output

    @Override public MemorySegment create() { return handle(); }

    @Override
    public void setStream(MemorySegment handle, MemorySegment stream) {
    }

    @Override
    public void gemmEx(MemorySegment handle, int transA, int transB, int m, int n, int k, float alpha, long a, int aType,
                       int lda, long b, int bType, int ldb, float beta, long c, int cType, int ldc, int computeType,
                       int algo) {
        if (cType != Cublas.CUDA_R_32F || computeType != Cublas.COMPUTE_32F) {
            throw new AssertionError("unexpected GemmEx output/compute type " + cType + "/" + computeType);
        }
        if (capture != null) {
            throw new AssertionError("cuBLAS inside a captured graph");
        }
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double acc = 0;
                for (int l = 0; l < k; l++) {
                    long ai = transA == Cublas.OP_T ? l + (long) i * lda : i + (long) l * lda;
                    long bi = transB == Cublas.OP_T ? j + (long) l * ldb : l + (long) j * ldb;
                    acc += (double) element(a, aType, ai) * element(b, bType, bi);
                }
                long ci = i + (long) j * ldc;
                float old = beta == 0 ? 0 : f(c, ci);
                setF(c, ci, (float) (alpha * acc + beta * old));
            }
        }
    }

    private float element(long p, int type, long i) {
        return switch (type) {
            case Cublas.CUDA_R_32F -> f(p, i);
            case Cublas.CUDA_R_16F -> Float.float16ToFloat(u16(p, i));
            case Cublas.CUDA_R_16BF -> Float.intBitsToFloat((u16(p, i) & 0xffff) << 16);
            default -> throw new AssertionError("GemmEx input type " + type);
        };
    }

    /** The row of a stored weight, dequantized by the Java tensor classes. */
    float[] row(long w, int ggmlType, long rowBytes, long row, int cols) {
        float[] out = new float[cols];
        Tensors.of("emulated", TensorType.fromGgmlId(ggmlType), 1, cols, dev(w + row * rowBytes, rowBytes))
                .dequantizeRow(0, out, 0);
        return out;
    }

    static TensorType typeOf(int ggml) {
        return TensorType.fromGgmlId(ggml);
    }
}
