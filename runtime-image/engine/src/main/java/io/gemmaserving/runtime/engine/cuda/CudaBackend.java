package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.Nvrtc;
import io.gemmaserving.runtime.engine.tensor.AbstractTensor;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@link Backend} on NVIDIA GPUs: weights are uploaded once (lazily, on first use) in their stored format, sharded
 * over {@code tp} devices by {@link ShardingPlan}, and each matmul runs the fused dequantize + matvec kernel
 * ({@code quant.cu}) on every device, in batch chunks of 8 rows. The per-device results come back to the host
 * (the Backend contract returns host arrays) where {@link ShardingPlan#combine} concatenates output splits and sums
 * input splits (the all-reduce, done on the host here).
 *
 * <p>Each device has one worker thread that makes its primary context current once and does every driver call for
 * that device. Never run on real GPU hardware yet: the GPU tests (CudaBackendGpuTest) are written and skip without one.
 */
public final class CudaBackend implements Backend {

    private static final int BATCH_CHUNK = 8;
    private static final long STAGING_BYTES = 8L << 20;

    private final CudaDriver cu;
    private final int tp;
    private final Device[] devices;

    /** Opens {@code tp} devices (ordinals 0..tp-1), compiling the kernels for each device's architecture. */
    public static CudaBackend open(int tp) {
        return new CudaBackend(CudaDriver.load(), Nvrtc.load(), tp);
    }

    private CudaBackend(CudaDriver cu, Nvrtc nvrtc, int tp) {
        this.cu = cu;
        this.tp = tp;
        cu.init();
        this.devices = new Device[tp];
        for (int d = 0; d < tp; d++) {
            devices[d] = new Device(d, nvrtc);
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public void matmul(WeightTensor w, float[] x, float[] out, int batch) {
        ShardingPlan.Split split = tp == 1 ? ShardingPlan.Split.REPLICATED : ShardingPlan.splitOf(w.name());
        int rows = Math.toIntExact(w.rows());
        int cols = w.cols();
        int used = split == ShardingPlan.Split.REPLICATED ? 1 : tp;
        float[][] partial = new float[used][];
        @SuppressWarnings("unchecked")
        Future<float[]>[] futures = new Future[used];
        for (int d = 0; d < used; d++) {
            int dev = d;
            futures[d] = devices[d].worker.submit(() -> devices[dev].matmul(w, split, x, batch, rows, cols));
        }
        for (int d = 0; d < used; d++) {
            try {
                partial[d] = futures[d].get();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted during a CUDA matmul");
            }
        }
        ShardingPlan.combine(split, partial, out, batch, rows);
    }

    @Override
    public void close() {
        for (Device d : devices) {
            try {
                d.worker.submit(d::release).get();
            } catch (Exception ignored) {
                // best effort at shutdown
            }
            d.worker.shutdown();
        }
    }

    /** One GPU: its context, stream, kernels, uploaded weights and scratch, all used from its worker thread only. */
    private final class Device {
        final int ordinal;
        final ExecutorService worker;
        MemorySegment ctx, stream, module, matvec;
        final Map<WeightTensor, Long> weights = new IdentityHashMap<>();
        final Arena pinnedArena = Arena.ofShared();
        MemorySegment[] staging;
        MemorySegment[] events;
        long xDev, outDev, xBytes, outBytes;

        Device(int ordinal, Nvrtc nvrtc) {
            this.ordinal = ordinal;
            this.worker = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "cuda-device-" + ordinal);
                t.setDaemon(true);
                return t;
            });
            try {
                worker.submit(() -> init(nvrtc)).get();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while opening CUDA device " + ordinal);
            }
        }

        private void init(Nvrtc nvrtc) {
            int dev = cu.device(ordinal);
            ctx = cu.primaryCtxRetain(dev);
            cu.ctxSetCurrent(ctx); // this worker thread does every call for this device
            stream = cu.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
            module = cu.moduleLoadPtx(KernelSources.compile(nvrtc, "quant.cu", cu.computeCapability(dev)));
            matvec = cu.moduleGetFunction(module, "matvec");
            staging = new MemorySegment[] {cu.memHostAlloc(STAGING_BYTES, 0), cu.memHostAlloc(STAGING_BYTES, 0)};
            events = new MemorySegment[] {cu.eventCreate(CudaDriver.EVENT_DISABLE_TIMING), cu.eventCreate(CudaDriver.EVENT_DISABLE_TIMING)};
        }

        float[] matmul(WeightTensor w, ShardingPlan.Split split, float[] x, int batch, int rows, int cols) {
            ShardingPlan plan = new ShardingPlan(tp, tp, tp, 2, cols, tp); // only shard() is used: dims checked per tensor
            ShardingPlan.Shard s = split == ShardingPlan.Split.REPLICATED
                    ? new ShardingPlan.Shard(0, rows, 0, cols)
                    : plan.shard(w.name(), w.type(), rows, cols, ordinal);
            long wDev = weights.computeIfAbsent(w, k -> upload(k, s));
            int localRows = (int) s.rowCount();
            int localCols = s.colCount();
            long needX = (long) batch * localCols * Float.BYTES;
            long needOut = (long) batch * localRows * Float.BYTES;
            ensureScratch(needX, needOut);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment xHost = arena.allocate(needX, 16);
                for (int b = 0; b < batch; b++) { // the device's input columns of each batch row
                    MemorySegment.copy(x, b * cols + s.colStart(), xHost, ValueLayout.JAVA_FLOAT,
                            (long) b * localCols * Float.BYTES, localCols);
                }
                cu.memcpyHtoDAsync(xDev, xHost, needX, stream);
                long rowBytes = w.type().bytesFor(localCols);
                MemorySegment params = new KernelArgs().ptr(wDev).i32(w.type().ggmlId).i64(rowBytes).i32(localRows)
                        .i32(localCols).ptr(xDev).ptr(outDev).i32(batch).build(arena);
                cu.launchKernel(matvec, (localRows + 3) / 4, (batch + BATCH_CHUNK - 1) / BATCH_CHUNK, 1, 128, 1, 1, 0,
                        stream, params);
                MemorySegment outHost = arena.allocate(needOut, 16);
                cu.memcpyDtoHAsync(outHost, outDev, needOut, stream);
                cu.streamSynchronize(stream);
                return outHost.toArray(ValueLayout.JAVA_FLOAT);
            }
        }

        private long upload(WeightTensor w, ShardingPlan.Shard s) {
            if (!(w instanceof AbstractTensor t)) {
                throw new UnsupportedOperationException(w.name() + ": the CUDA backend needs the tensor's bytes ("
                        + w.getClass().getSimpleName() + " does not expose them)");
            }
            if (!DeviceMemoryPlan.SUPPORTED.contains(w.type())) {
                throw new UnsupportedOperationException(w.name() + ": " + w.type() + " has no CUDA kernel (supported: "
                        + DeviceMemoryPlan.SUPPORTED + ")");
            }
            long rowBytes = w.type().bytesFor(w.cols());
            long[] ranges = ShardingPlan.sourceRanges(s, w.type(), rowBytes);
            long bytes = s.rowCount() * w.type().bytesFor(s.colCount());
            long dst = cu.memAlloc(bytes);
            PinnedStager stager = new PinnedStager(staging, new PinnedStager.Copier() {
                @Override
                public void copyAsync(int buffer, MemorySegment src, long deviceDst, long n) {
                    cu.memcpyHtoDAsync(deviceDst, src, n, stream);
                    cu.eventRecord(events[buffer], stream);
                }

                @Override
                public void await(int buffer) {
                    cu.eventSynchronize(events[buffer]);
                }
            });
            stager.upload(t.data(), ranges, dst);
            return dst;
        }

        private void ensureScratch(long needX, long needOut) {
            if (needX > xBytes) {
                if (xDev != 0) cu.memFree(xDev);
                xDev = cu.memAlloc(needX);
                xBytes = needX;
            }
            if (needOut > outBytes) {
                if (outDev != 0) cu.memFree(outDev);
                outDev = cu.memAlloc(needOut);
                outBytes = needOut;
            }
        }

        void release() {
            for (long p : weights.values()) cu.memFree(p);
            weights.clear();
            if (xDev != 0) cu.memFree(xDev);
            if (outDev != 0) cu.memFree(outDev);
            for (MemorySegment b : staging) cu.memFreeHost(b);
            cu.moduleUnload(module);
            cu.streamDestroy(stream);
            cu.primaryCtxRelease(cu.device(ordinal));
        }
    }
}
