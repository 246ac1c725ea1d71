package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static io.gemmaserving.runtime.engine.cuda.bindings.Native.INT;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.PTR;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.SIZE_T;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.status;

/**
 * CUDA graphs through the driver API: record the kernels a stream receives ({@code cuStreamBeginCapture} ..
 * {@code cuStreamEndCapture}) into a graph, instantiate it once and replay it with one {@code cuGraphLaunch}, which
 * replaces a decode step's hundreds of kernel launches. Kept apart from {@link CudaDriver} so that a driver older than
 * CUDA 11.4 (no {@code cuGraphInstantiateWithFlags}) still runs, without graphs.
 */
public final class CudaGraphApi implements Graphs {

    /** CUstreamCaptureMode: only this thread's unsafe calls are prohibited during capture. */
    public static final int CAPTURE_MODE_THREAD_LOCAL = 1;

    private final CudaDriver cu;
    private final MethodHandle beginCapture, endCapture, instantiate, launch, execDestroy, graphDestroy;

    public CudaGraphApi(SymbolLookup lib, CudaDriver cu) {
        String l = "libcuda.so.1";
        this.cu = cu;
        beginCapture = Native.function(lib, l, "cuStreamBeginCapture_v2", status(PTR, INT));
        endCapture = Native.function(lib, l, "cuStreamEndCapture", status(PTR, PTR));
        instantiate = Native.function(lib, l, "cuGraphInstantiateWithFlags", status(PTR, PTR, SIZE_T));
        launch = Native.function(lib, l, "cuGraphLaunch", status(PTR, PTR));
        execDestroy = Native.function(lib, l, "cuGraphExecDestroy", status(PTR));
        graphDestroy = Native.function(lib, l, "cuGraphDestroy", status(PTR));
    }

    /** Starts recording {@code stream}: what is queued on it until {@link #endCapture} is recorded, not run. */
    public void beginCapture(MemorySegment stream) {
        try {
            cu.check("cuStreamBeginCapture_v2", (int) beginCapture.invokeExact(stream, CAPTURE_MODE_THREAD_LOCAL));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Ends the recording and instantiates it; returns the executable graph ({@code CUgraphExec}). */
    public MemorySegment endCaptureAndInstantiate(MemorySegment stream) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment graphOut = arena.allocate(PTR);
            cu.check("cuStreamEndCapture", (int) endCapture.invokeExact(stream, graphOut));
            MemorySegment graph = graphOut.get(PTR, 0);
            try {
                MemorySegment execOut = arena.allocate(PTR);
                cu.check("cuGraphInstantiateWithFlags", (int) instantiate.invokeExact(execOut, graph, 0L));
                return execOut.get(PTR, 0);
            } finally {
                int ignored = (int) graphDestroy.invokeExact(graph); // the executable keeps what it needs
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void launch(MemorySegment exec, MemorySegment stream) {
        try {
            cu.check("cuGraphLaunch", (int) launch.invokeExact(exec, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void destroy(MemorySegment exec) {
        try {
            cu.check("cuGraphExecDestroy", (int) execDestroy.invokeExact(exec));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
