package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

import static io.gemmaserving.runtime.engine.cuda.bindings.Native.INT;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.PTR;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.SIZE_T;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.status;

/**
 * The CUDA driver API ({@code libcuda.so.1}) through FFM: the calls the backend needs, each checked, each failure a
 * {@link CudaException} naming the call and the {@code CUresult}. Handles ({@code CUcontext}, {@code CUstream},
 * {@code CUmodule}, {@code CUfunction}, {@code CUevent}) are {@link MemorySegment} addresses; device pointers
 * ({@code CUdeviceptr}) are {@code long}s.
 *
 * <p>Versioned symbols: the header macros map {@code cuMemAlloc} to {@code cuMemAlloc_v2} and so on; an FFM lookup
 * sees the raw exports, so the {@code _v2} names are bound here (the unsuffixed ones are the 32-bit-era ABI).
 *
 * <p>Contexts are per thread: a thread must make the device's context current ({@link #ctxSetCurrent}) before any
 * call that uses it; the backend gives each device its own worker thread that does so once.
 */
public final class CudaDriver implements Driver {

    // cuDeviceGetAttribute ids (CUdevice_attribute)
    public static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    public static final int ATTR_MEMORY_CLOCK_RATE = 36;       // kHz
    public static final int ATTR_GLOBAL_MEMORY_BUS_WIDTH = 37; // bits
    public static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;
    /** cuMemHostAlloc flag: portable across contexts. */
    public static final int MEMHOSTALLOC_PORTABLE = 0x01;
    /** cuStreamCreate flag: does not synchronize with the legacy default stream. */
    public static final int STREAM_NON_BLOCKING = 0x1;
    /** cuEventCreate flag: no timing (cheaper, for dependencies only). */
    public static final int EVENT_DISABLE_TIMING = 0x2;

    private final MethodHandle cuInit, cuDriverGetVersion, cuGetErrorName, cuDeviceGetCount, cuDeviceGet,
            cuDeviceGetName, cuDeviceGetAttribute, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease,
            cuCtxSetCurrent, cuMemAlloc, cuMemFree, cuMemGetInfo, cuMemHostAlloc, cuMemFreeHost, cuMemcpyHtoDAsync,
            cuMemcpyDtoHAsync, cuMemcpyDtoDAsync, cuMemcpyPeerAsync, cuStreamCreate, cuStreamSynchronize, cuStreamDestroy,
            cuStreamWaitEvent, cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime, cuEventDestroy,
            cuModuleLoadData, cuModuleGetFunction, cuModuleUnload, cuLaunchKernel, cuDeviceCanAccessPeer,
            cuCtxEnablePeerAccess;

    /** Binds every function of {@code lib} (see {@link CudaLibraries#driver()}); a missing symbol throws. */
    public CudaDriver(SymbolLookup lib) {
        String l = "libcuda.so.1";
        cuInit = Native.function(lib, l, "cuInit", status(INT));
        cuDriverGetVersion = Native.function(lib, l, "cuDriverGetVersion", status(PTR));
        cuGetErrorName = Native.function(lib, l, "cuGetErrorName", status(INT, PTR));
        cuDeviceGetCount = Native.function(lib, l, "cuDeviceGetCount", status(PTR));
        cuDeviceGet = Native.function(lib, l, "cuDeviceGet", status(PTR, INT));
        cuDeviceGetName = Native.function(lib, l, "cuDeviceGetName", status(PTR, INT, INT));
        cuDeviceGetAttribute = Native.function(lib, l, "cuDeviceGetAttribute", status(PTR, INT, INT));
        cuDevicePrimaryCtxRetain = Native.function(lib, l, "cuDevicePrimaryCtxRetain", status(PTR, INT));
        cuDevicePrimaryCtxRelease = Native.function(lib, l, "cuDevicePrimaryCtxRelease_v2", status(INT));
        cuCtxSetCurrent = Native.function(lib, l, "cuCtxSetCurrent", status(PTR));
        cuMemAlloc = Native.function(lib, l, "cuMemAlloc_v2", status(PTR, SIZE_T));
        cuMemFree = Native.function(lib, l, "cuMemFree_v2", status(SIZE_T));
        cuMemGetInfo = Native.function(lib, l, "cuMemGetInfo_v2", status(PTR, PTR));
        cuMemHostAlloc = Native.function(lib, l, "cuMemHostAlloc", status(PTR, SIZE_T, INT));
        cuMemFreeHost = Native.function(lib, l, "cuMemFreeHost", status(PTR));
        cuMemcpyHtoDAsync = Native.function(lib, l, "cuMemcpyHtoDAsync_v2", status(SIZE_T, PTR, SIZE_T, PTR));
        cuMemcpyDtoHAsync = Native.function(lib, l, "cuMemcpyDtoHAsync_v2", status(PTR, SIZE_T, SIZE_T, PTR));
        cuMemcpyDtoDAsync = Native.function(lib, l, "cuMemcpyDtoDAsync_v2", status(SIZE_T, SIZE_T, SIZE_T, PTR));
        cuMemcpyPeerAsync = Native.function(lib, l, "cuMemcpyPeerAsync", status(SIZE_T, PTR, SIZE_T, PTR, SIZE_T, PTR));
        cuStreamCreate = Native.function(lib, l, "cuStreamCreate", status(PTR, INT));
        cuStreamSynchronize = Native.function(lib, l, "cuStreamSynchronize", status(PTR));
        cuStreamDestroy = Native.function(lib, l, "cuStreamDestroy_v2", status(PTR));
        cuStreamWaitEvent = Native.function(lib, l, "cuStreamWaitEvent", status(PTR, PTR, INT));
        cuEventCreate = Native.function(lib, l, "cuEventCreate", status(PTR, INT));
        cuEventRecord = Native.function(lib, l, "cuEventRecord", status(PTR, PTR));
        cuEventSynchronize = Native.function(lib, l, "cuEventSynchronize", status(PTR));
        cuEventElapsedTime = Native.function(lib, l, "cuEventElapsedTime", status(PTR, PTR, PTR));
        cuEventDestroy = Native.function(lib, l, "cuEventDestroy_v2", status(PTR));
        cuModuleLoadData = Native.function(lib, l, "cuModuleLoadData", status(PTR, PTR));
        cuModuleGetFunction = Native.function(lib, l, "cuModuleGetFunction", status(PTR, PTR, PTR));
        cuModuleUnload = Native.function(lib, l, "cuModuleUnload", status(PTR));
        cuLaunchKernel = Native.function(lib, l, "cuLaunchKernel",
                status(PTR, INT, INT, INT, INT, INT, INT, INT, PTR, PTR, PTR));
        cuDeviceCanAccessPeer = Native.function(lib, l, "cuDeviceCanAccessPeer", status(PTR, INT, INT));
        cuCtxEnablePeerAccess = Native.function(lib, l, "cuCtxEnablePeerAccess", status(PTR, INT));
    }

    /** Loads {@code libcuda.so.1} and binds it. */
    public static CudaDriver load() {
        return new CudaDriver(CudaLibraries.driver());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Errors

    /** The driver's name for {@code code} ({@code cuGetErrorName}), or the built-in table's. */
    public String errorName(int code) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(PTR);
            int rc = (int) cuGetErrorName.invokeExact(code, out);
            MemorySegment str = out.get(PTR, 0);
            if (rc == 0 && !str.equals(MemorySegment.NULL)) {
                return str.reinterpret(256).getString(0, StandardCharsets.US_ASCII);
            }
        } catch (Throwable t) {
            // fall through to the table
        }
        return ErrorNames.cuResult(code);
    }

    /** Throws when {@code rc} is not {@code CUDA_SUCCESS}. */
    public void check(String call, int rc) {
        if (rc != 0) {
            throw new CudaException(call, rc, errorName(rc));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Initialization and devices

    /** {@code cuInit(0)}, returning the raw CUresult: availability probing wants the code, not an exception. */
    public int initRaw() {
        try {
            return (int) cuInit.invokeExact(0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void init() {
        check("cuInit", initRaw());
    }

    /** Driver version as CUDA encodes it: 1000 * major + 10 * minor (12040 = 12.4). */
    public int driverVersion() {
        return intOut("cuDriverGetVersion", cuDriverGetVersion);
    }

    public int deviceCount() {
        return intOut("cuDeviceGetCount", cuDeviceGetCount);
    }

    /** The {@code CUdevice} of ordinal {@code ordinal}. */
    public int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check("cuDeviceGet", (int) cuDeviceGet.invokeExact(out, ordinal));
            return out.get(INT, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(buf, 256, device));
            return buf.getString(0, StandardCharsets.US_ASCII);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public int deviceAttribute(int attribute, int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check("cuDeviceGetAttribute", (int) cuDeviceGetAttribute.invokeExact(out, attribute, device));
            return out.get(INT, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Compute capability as {@code 10 * major + minor} (90 for an H100). */
    public int computeCapability(int device) {
        return 10 * deviceAttribute(ATTR_COMPUTE_CAPABILITY_MAJOR, device) + deviceAttribute(ATTR_COMPUTE_CAPABILITY_MINOR, device);
    }

    public boolean canAccessPeer(int device, int peer) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check("cuDeviceCanAccessPeer", (int) cuDeviceCanAccessPeer.invokeExact(out, device, peer));
            return out.get(INT, 0) != 0;
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Contexts

    /** Retains the device's primary context (the one the runtime API and cuBLAS share). */
    public MemorySegment primaryCtxRetain(int device) {
        return handleOut2("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain, device);
    }

    public void primaryCtxRelease(int device) {
        try {
            check("cuDevicePrimaryCtxRelease_v2", (int) cuDevicePrimaryCtxRelease.invokeExact(device));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Makes {@code ctx} current on the calling thread. */
    public void ctxSetCurrent(MemorySegment ctx) {
        call("cuCtxSetCurrent", cuCtxSetCurrent, ctx);
    }

    /** Lets the current context read and write {@code peer}'s memory (tensor-parallel peer copies). */
    public void ctxEnablePeerAccess(MemorySegment peer) {
        try {
            int rc = (int) cuCtxEnablePeerAccess.invokeExact(peer, 0);
            if (rc != 704) { // CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED is fine
                check("cuCtxEnablePeerAccess", rc);
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Memory

    /** Device memory of {@code bytes} bytes in the current context; returns the device pointer. */
    public long memAlloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(SIZE_T);
            check("cuMemAlloc_v2", (int) cuMemAlloc.invokeExact(out, bytes));
            return out.get(SIZE_T, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void memFree(long devicePtr) {
        try {
            check("cuMemFree_v2", (int) cuMemFree.invokeExact(devicePtr));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {free, total} bytes of the current context's device. */
    public long[] memGetInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(SIZE_T);
            MemorySegment total = arena.allocate(SIZE_T);
            check("cuMemGetInfo_v2", (int) cuMemGetInfo.invokeExact(free, total));
            return new long[] {free.get(SIZE_T, 0), total.get(SIZE_T, 0)};
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Page-locked host memory (fast, asynchronous DMA), as a segment of {@code bytes} bytes. */
    public MemorySegment memHostAlloc(long bytes, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(PTR);
            check("cuMemHostAlloc", (int) cuMemHostAlloc.invokeExact(out, bytes, flags));
            return out.get(PTR, 0).reinterpret(bytes);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void memFreeHost(MemorySegment host) {
        call("cuMemFreeHost", cuMemFreeHost, host);
    }

    public void memcpyHtoDAsync(long dst, MemorySegment src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyHtoDAsync_v2", (int) cuMemcpyHtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void memcpyDtoHAsync(MemorySegment dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoHAsync_v2", (int) cuMemcpyDtoHAsync.invokeExact(dst, src, bytes, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void memcpyDtoDAsync(long dst, long src, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyDtoDAsync_v2", (int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Copies between devices (contexts); goes over NVLink/PCIe peer-to-peer when enabled, else through the host. */
    public void memcpyPeerAsync(long dst, MemorySegment dstCtx, long src, MemorySegment srcCtx, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyPeerAsync", (int) cuMemcpyPeerAsync.invokeExact(dst, dstCtx, src, srcCtx, bytes, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Streams and events

    public MemorySegment streamCreate(int flags) {
        return handleOut2("cuStreamCreate", cuStreamCreate, flags);
    }

    public void streamSynchronize(MemorySegment stream) {
        call("cuStreamSynchronize", cuStreamSynchronize, stream);
    }

    public void streamDestroy(MemorySegment stream) {
        call("cuStreamDestroy_v2", cuStreamDestroy, stream);
    }

    /** Work queued on {@code stream} after this waits for {@code event}. */
    public void streamWaitEvent(MemorySegment stream, MemorySegment event) {
        try {
            check("cuStreamWaitEvent", (int) cuStreamWaitEvent.invokeExact(stream, event, 0));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public MemorySegment eventCreate(int flags) {
        return handleOut2("cuEventCreate", cuEventCreate, flags);
    }

    public void eventRecord(MemorySegment event, MemorySegment stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(event, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void eventSynchronize(MemorySegment event) {
        call("cuEventSynchronize", cuEventSynchronize, event);
    }

    /** Milliseconds between two recorded (and completed) events. */
    public float eventElapsedTime(MemorySegment start, MemorySegment end) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT);
            check("cuEventElapsedTime", (int) cuEventElapsedTime.invokeExact(out, start, end));
            return out.get(ValueLayout.JAVA_FLOAT, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void eventDestroy(MemorySegment event) {
        call("cuEventDestroy_v2", cuEventDestroy, event);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Modules and launches

    /** Loads a module from PTX text (JIT-compiled by the driver for the current device) or a cubin. */
    public MemorySegment moduleLoadPtx(String ptx) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment image = arena.allocateFrom(ptx); // NUL-terminated, as PTX images must be
            MemorySegment out = arena.allocate(PTR);
            check("cuModuleLoadData", (int) cuModuleLoadData.invokeExact(out, image));
            return out.get(PTR, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(PTR);
            int rc = (int) cuModuleGetFunction.invokeExact(out, module, arena.allocateFrom(name));
            if (rc != 0) {
                throw new CudaException("cuModuleGetFunction", rc, errorName(rc), "kernel " + name);
            }
            return out.get(PTR, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void moduleUnload(MemorySegment module) {
        call("cuModuleUnload", cuModuleUnload, module);
    }

    /**
     * Launches {@code function} on {@code stream}. {@code params} is the {@code void**} array that
     * {@link io.gemmaserving.runtime.engine.cuda.KernelArgs} builds: one pointer per kernel parameter, each to the
     * parameter's value.
     */
    public void launchKernel(MemorySegment function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                             int sharedMemBytes, MemorySegment stream, MemorySegment params) {
        try {
            int rc = (int) cuLaunchKernel.invokeExact(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedMemBytes, stream, params, MemorySegment.NULL);
            if (rc != 0) {
                throw new CudaException("cuLaunchKernel", rc, errorName(rc),
                        "grid " + gridX + "x" + gridY + "x" + gridZ + " block " + blockX + "x" + blockY + "x" + blockZ);
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    private int intOut(String name, MethodHandle h) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check(name, (int) h.invokeExact(out));
            return out.get(INT, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code rc = f(&handle, intArg)}. */
    private MemorySegment handleOut2(String name, MethodHandle h, int arg) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(PTR);
            check(name, (int) h.invokeExact(out, arg));
            return out.get(PTR, 0);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private void call(String name, MethodHandle h, MemorySegment arg) {
        try {
            check(name, (int) h.invokeExact(arg));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
