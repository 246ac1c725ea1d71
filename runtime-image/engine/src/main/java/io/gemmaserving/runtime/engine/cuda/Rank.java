package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Blas;
import io.gemmaserving.runtime.engine.cuda.bindings.Cublas;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.Driver;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * One tensor-parallel rank: a GPU's primary context (shared by ranks on the same GPU), its own stream, the kernels,
 * a cuBLAS handle on that stream, and every device allocation the rank made (weights, workspace, step layout),
 * freed on {@link #close}. All calls happen on the engine's thread, which makes {@link #ctx()} current before
 * talking to the rank ({@link #makeCurrent}).
 */
public final class Rank implements AutoCloseable {

    private static final long STAGING_BYTES = 8L << 20;

    private final Driver cu;
    private final int index;
    private final int ordinal;
    private final int device;
    private final MemorySegment ctx;
    private final MemorySegment stream;
    private final Kernels kernels;
    private final Blas cublas;
    private final MemorySegment cublasHandle;
    private final MemorySegment partialDone;
    private final MemorySegment copyDone;
    private final List<Long> allocations = new ArrayList<>();
    private final List<MemorySegment> pinned = new ArrayList<>();
    private final List<MemorySegment> events = new ArrayList<>();
    private DeviceWeights weights;
    private Workspace workspace;
    private Matmul matmul;
    private long layoutDevice;
    private MemorySegment layoutHost;
    private MemorySegment logitsHost;

    /**
     * @param cublas null when cuBLAS is not available (every product on the matvec kernels)
     */
    public Rank(Driver cu, int index, int ordinal, PtxSource ptx, Blas cublas, System.Logger log) {
        this.cu = cu;
        this.index = index;
        this.ordinal = ordinal;
        this.device = cu.device(ordinal);
        this.ctx = cu.primaryCtxRetain(device);
        cu.ctxSetCurrent(ctx);
        this.stream = cu.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
        this.kernels = new Kernels(cu, ptx, cu.computeCapability(device), log);
        this.cublas = cublas;
        if (cublas != null) {
            cublasHandle = cublas.create();
            cublas.setStream(cublasHandle, stream);
        } else {
            cublasHandle = null;
        }
        this.partialDone = cu.eventCreate(CudaDriver.EVENT_DISABLE_TIMING);
        this.copyDone = cu.eventCreate(CudaDriver.EVENT_DISABLE_TIMING);
    }

    public void makeCurrent() {
        cu.ctxSetCurrent(ctx);
    }

    /** Device memory of this rank, freed on close. */
    public long alloc(long bytes) {
        long p = cu.memAlloc(Math.max(bytes, 1));
        allocations.add(p);
        return p;
    }

    /** Device memory whose life the caller manages (a KV cache). */
    public long allocOwned(long bytes) {
        return cu.memAlloc(Math.max(bytes, 1));
    }

    public void free(long ptr) {
        cu.memFree(ptr);
    }

    /** Uploads through two 8 MiB pinned buffers (double-buffered asynchronous copies, {@link PinnedStager}). */
    public DeviceWeights.Uploader uploader() {
        MemorySegment[] staging = {pinnedHost(STAGING_BYTES), pinnedHost(STAGING_BYTES)};
        MemorySegment[] done = {cu.eventCreate(CudaDriver.EVENT_DISABLE_TIMING), cu.eventCreate(CudaDriver.EVENT_DISABLE_TIMING)};
        events.addAll(List.of(done));
        PinnedStager stager = new PinnedStager(staging, new PinnedStager.Copier() {
            @Override
            public void copyAsync(int buffer, MemorySegment src, long deviceDst, long n) {
                cu.memcpyHtoDAsync(deviceDst, src, n, stream);
                cu.eventRecord(done[buffer], stream);
            }

            @Override
            public void await(int buffer) {
                cu.eventSynchronize(done[buffer]);
            }
        });
        return new DeviceWeights.Uploader() {
            @Override
            public long upload(MemorySegment source, long[] ranges, long bytes) {
                long dst = alloc(bytes);
                stager.upload(source, ranges, dst);
                return dst;
            }

            @Override
            public long upload(float[] values) {
                MemorySegment heap = MemorySegment.ofArray(values);
                return upload(heap, new long[] {0, heap.byteSize()}, heap.byteSize());
            }
        };
    }

    /** Makes a synthetic model's weights with the fill kernels. */
    public DeviceWeights.Filler filler() {
        return new DeviceWeights.Filler() {
            @Override
            public long randomBf16(long count, int seed, float scale) {
                long p = alloc(2 * count);
                kernels.fillRandomBf16(stream, p, count, seed, scale);
                return p;
            }

            @Override
            public long randomF32(long count, int seed, float center, float scale) {
                long p = alloc(4 * count);
                kernels.fillRandomF32(stream, p, count, seed, center, scale);
                return p;
            }
        };
    }

    /** Page-locked host memory of this rank (freed on close). */
    public MemorySegment pinnedHost(long bytes) {
        MemorySegment m = cu.memHostAlloc(bytes, CudaDriver.MEMHOSTALLOC_PORTABLE);
        pinned.add(m);
        return m;
    }

    void setWeights(DeviceWeights w) {
        this.weights = w;
    }

    /** Allocates the workspace and the step-layout buffers (device and pinned host), and the logits' host side. */
    void allocateBuffers(Workspace layout, StepLayout.Offsets offsets, long logitsBytes) {
        this.workspace = layout.at(alloc(layout.bytes()));
        this.matmul = new Matmul(kernels, cublas, cublasHandle, workspace);
        this.layoutDevice = alloc(offsets.bytes());
        this.layoutHost = pinnedHost(offsets.bytes());
        this.logitsHost = logitsBytes > 0 ? pinnedHost(logitsBytes) : null;
    }

    /** Queues the upload of the step layout's host buffer (filled by the caller) on the stream. */
    void uploadLayout(long bytes) {
        cu.memcpyHtoDAsync(layoutDevice, layoutHost, bytes, stream);
    }

    /** Queues the copy of {@code floats} logits to the pinned host buffer. */
    void downloadLogits(long floats) {
        cu.memcpyDtoHAsync(logitsHost, workspace.logits(), 4 * floats, stream);
    }

    float[] logitsRow(int row, int vocab) {
        float[] out = new float[vocab];
        MemorySegment.copy(logitsHost, ValueLayout.JAVA_FLOAT, 4L * row * vocab, out, 0, vocab);
        return out;
    }

    public void synchronize() {
        cu.streamSynchronize(stream);
    }

    public int index() {
        return index;
    }

    public int ordinal() {
        return ordinal;
    }

    public MemorySegment ctx() {
        return ctx;
    }

    public MemorySegment stream() {
        return stream;
    }

    public Kernels kernels() {
        return kernels;
    }

    public Matmul matmul() {
        return matmul;
    }

    public DeviceWeights weights() {
        return weights;
    }

    public Workspace workspace() {
        return workspace;
    }

    public long layoutDevice() {
        return layoutDevice;
    }

    public MemorySegment layoutHost() {
        return layoutHost;
    }

    MemorySegment partialDone() {
        return partialDone;
    }

    MemorySegment copyDone() {
        return copyDone;
    }

    @Override
    public void close() {
        cu.ctxSetCurrent(ctx);
        cu.streamSynchronize(stream);
        for (long p : allocations) {
            cu.memFree(p);
        }
        allocations.clear();
        for (MemorySegment m : pinned) {
            cu.memFreeHost(m);
        }
        pinned.clear();
        if (cublasHandle != null) {
            cublas.destroy(cublasHandle);
        }
        kernels.close();
        for (MemorySegment e : events) {
            cu.eventDestroy(e);
        }
        cu.eventDestroy(partialDone);
        cu.eventDestroy(copyDone);
        cu.streamDestroy(stream);
        cu.primaryCtxRelease(device);
    }
}
