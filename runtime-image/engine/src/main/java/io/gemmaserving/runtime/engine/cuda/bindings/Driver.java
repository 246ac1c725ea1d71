package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.MemorySegment;

/**
 * The CUDA driver calls the engine makes, as an interface: {@link CudaDriver} is the real one (FFM downcalls into
 * {@code libcuda.so.1}); the engine tests drive the whole engine through a host emulation of it. Handles are
 * {@link MemorySegment} addresses, device pointers {@code long}s; every failure is a {@link CudaException}.
 */
public interface Driver {

    void init();

    /** 1000 * major + 10 * minor (12040 = 12.4). */
    int driverVersion();

    int deviceCount();

    /** The {@code CUdevice} of ordinal {@code ordinal}. */
    int device(int ordinal);

    String deviceName(int device);

    /** 10 * major + minor (90 for an H100). */
    int computeCapability(int device);

    boolean canAccessPeer(int device, int peer);

    MemorySegment primaryCtxRetain(int device);

    void primaryCtxRelease(int device);

    void ctxSetCurrent(MemorySegment ctx);

    void ctxEnablePeerAccess(MemorySegment peer);

    long memAlloc(long bytes);

    void memFree(long devicePtr);

    /** {free, total} bytes of the current context's device. */
    long[] memGetInfo();

    MemorySegment memHostAlloc(long bytes, int flags);

    void memFreeHost(MemorySegment host);

    void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream);

    void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream);

    void memcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream);

    void memcpyPeerAsync(long dst, MemorySegment dstCtx, long src, MemorySegment srcCtx, long bytes, MemorySegment stream);

    MemorySegment streamCreate(int flags);

    void streamSynchronize(MemorySegment stream);

    void streamDestroy(MemorySegment stream);

    void streamWaitEvent(MemorySegment stream, MemorySegment event);

    MemorySegment eventCreate(int flags);

    void eventRecord(MemorySegment event, MemorySegment stream);

    void eventSynchronize(MemorySegment event);

    void eventDestroy(MemorySegment event);

    MemorySegment moduleLoadPtx(String ptx);

    MemorySegment moduleGetFunction(MemorySegment module, String name);

    void moduleUnload(MemorySegment module);

    /** {@code params}: the {@code void**} array of {@link io.gemmaserving.runtime.engine.cuda.KernelArgs}. */
    void launchKernel(MemorySegment function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                      int sharedMemBytes, MemorySegment stream, MemorySegment params);
}
