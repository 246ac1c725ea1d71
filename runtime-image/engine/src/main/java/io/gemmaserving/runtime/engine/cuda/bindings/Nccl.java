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
 * NCCL ({@code libnccl.so.2}) through FFM: one communicator per GPU of this process ({@code ncclCommInitAll}) and
 * the in-place sum all-reduce of f32 buffers that tensor parallelism needs after each row-parallel projection. One
 * thread drives every GPU, so each round of {@code ncclAllReduce} calls is wrapped in
 * {@code ncclGroupStart}/{@code ncclGroupEnd} (NCCL's rule for a single thread managing several devices).
 * NCCL refuses two communicators on the same GPU; tensor parallelism over streams of one GPU uses peer copies.
 */
public final class Nccl {

    /** ncclDataType_t ncclFloat32. */
    public static final int FLOAT32 = 7;
    /** ncclRedOp_t ncclSum. */
    public static final int SUM = 0;

    private final MethodHandle commInitAll, commDestroy, allReduce, groupStart, groupEnd, getErrorString;

    public Nccl(SymbolLookup lib) {
        String l = "libnccl";
        commInitAll = Native.function(lib, l, "ncclCommInitAll", status(PTR, INT, PTR));
        commDestroy = Native.function(lib, l, "ncclCommDestroy", status(PTR));
        allReduce = Native.function(lib, l, "ncclAllReduce", status(SIZE_T, SIZE_T, SIZE_T, INT, INT, PTR, PTR));
        groupStart = Native.function(lib, l, "ncclGroupStart", status());
        groupEnd = Native.function(lib, l, "ncclGroupEnd", status());
        getErrorString = Native.function(lib, l, "ncclGetErrorString",
                java.lang.foreign.FunctionDescriptor.of(PTR, INT));
    }

    /** Finds and binds NCCL, or a {@link CudaException} saying where it was looked for. */
    public static Nccl load() {
        return new Nccl(CudaLibraries.nccl());
    }

    /** One communicator per device ordinal in {@code devices}, in that order (rank i = devices[i]). */
    public MemorySegment[] commInitAll(int[] devices) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment comms = arena.allocate(PTR, devices.length);
            MemorySegment list = arena.allocateFrom(ValueLayout.JAVA_INT, devices);
            check("ncclCommInitAll", (int) commInitAll.invokeExact(comms, devices.length, list));
            MemorySegment[] out = new MemorySegment[devices.length];
            for (int i = 0; i < devices.length; i++) {
                out[i] = comms.getAtIndex(PTR, i);
            }
            return out;
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void commDestroy(MemorySegment comm) {
        try {
            check("ncclCommDestroy", (int) commDestroy.invokeExact(comm));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Queues {@code buffer[0..count) = sum over ranks} (f32, in place) on {@code stream}. */
    public void allReduceSumInPlace(long buffer, long count, MemorySegment comm, MemorySegment stream) {
        try {
            check("ncclAllReduce", (int) allReduce.invokeExact(buffer, buffer, count, FLOAT32, SUM, comm, stream));
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void groupStart() {
        try {
            check("ncclGroupStart", (int) groupStart.invokeExact());
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public void groupEnd() {
        try {
            check("ncclGroupEnd", (int) groupEnd.invokeExact());
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private void check(String call, int rc) throws Throwable {
        if (rc != 0) {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(rc);
            String name = s.equals(MemorySegment.NULL) ? "ncclResult " + rc
                    : s.reinterpret(256).getString(0, StandardCharsets.US_ASCII);
            throw new CudaException(call, rc, name);
        }
    }
}
