package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static io.gemmaserving.runtime.engine.cuda.bindings.Native.INT;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.PTR;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.SIZE_T;
import static io.gemmaserving.runtime.engine.cuda.bindings.Native.status;

/**
 * NVRTC, NVIDIA's runtime CUDA C++ compiler, through FFM: CUDA source in, PTX out. It needs no GPU and no driver,
 * so the kernels are compiled in ordinary unit tests (see hack/setup.d/40-cuda-nvrtc.sh).
 */
public final class Nvrtc {

    private final MethodHandle nvrtcVersion, nvrtcCreateProgram, nvrtcCompileProgram, nvrtcGetPTXSize, nvrtcGetPTX,
            nvrtcGetProgramLogSize, nvrtcGetProgramLog, nvrtcDestroyProgram;

    public Nvrtc(SymbolLookup lib) {
        String l = "libnvrtc";
        nvrtcVersion = Native.function(lib, l, "nvrtcVersion", status(PTR, PTR));
        nvrtcCreateProgram = Native.function(lib, l, "nvrtcCreateProgram", status(PTR, PTR, PTR, INT, PTR, PTR));
        nvrtcCompileProgram = Native.function(lib, l, "nvrtcCompileProgram", status(PTR, INT, PTR));
        nvrtcGetPTXSize = Native.function(lib, l, "nvrtcGetPTXSize", status(PTR, PTR));
        nvrtcGetPTX = Native.function(lib, l, "nvrtcGetPTX", status(PTR, PTR));
        nvrtcGetProgramLogSize = Native.function(lib, l, "nvrtcGetProgramLogSize", status(PTR, PTR));
        nvrtcGetProgramLog = Native.function(lib, l, "nvrtcGetProgramLog", status(PTR, PTR));
        nvrtcDestroyProgram = Native.function(lib, l, "nvrtcDestroyProgram", status(PTR));
    }

    /** Finds and binds NVRTC (see {@link CudaLibraries#nvrtc()}). */
    public static Nvrtc load() {
        return new Nvrtc(CudaLibraries.nvrtc());
    }

    /** {major, minor} of this NVRTC. */
    public int[] version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment major = arena.allocate(INT);
            MemorySegment minor = arena.allocate(INT);
            check("nvrtcVersion", (int) nvrtcVersion.invokeExact(major, minor), null);
            return new int[] {major.get(INT, 0), minor.get(INT, 0)};
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Compiles {@code source} to PTX.
     *
     * @param source   CUDA C++ source
     * @param name     file name for diagnostics, e.g. {@code rmsnorm.cu}
     * @param headers  name -> content of headers the source {@code #include}s by that name
     * @param options  compiler options, e.g. {@code --gpu-architecture=compute_90}, {@code -default-device}
     * @return the PTX text
     * @throws CudaException on a compile error, with the compiler's log in the message
     */
    public String compileToPtx(String source, String name, Map<String, String> headers, List<String> options) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment progOut = arena.allocate(PTR);
            int n = headers.size();
            MemorySegment headerSources = arena.allocate(PTR, Math.max(1, n));
            MemorySegment headerNames = arena.allocate(PTR, Math.max(1, n));
            int i = 0;
            for (Map.Entry<String, String> h : headers.entrySet()) {
                headerSources.setAtIndex(PTR, i, arena.allocateFrom(h.getValue()));
                headerNames.setAtIndex(PTR, i, arena.allocateFrom(h.getKey()));
                i++;
            }
            MemorySegment hs = n == 0 ? MemorySegment.NULL : headerSources;
            MemorySegment hn = n == 0 ? MemorySegment.NULL : headerNames;
            check("nvrtcCreateProgram", (int) nvrtcCreateProgram.invokeExact(progOut, arena.allocateFrom(source),
                    arena.allocateFrom(name), n, hs, hn), null);
            MemorySegment prog = progOut.get(PTR, 0);
            try {
                MemorySegment opts = arena.allocate(PTR, Math.max(1, options.size()));
                for (int k = 0; k < options.size(); k++) {
                    opts.setAtIndex(PTR, k, arena.allocateFrom(options.get(k)));
                }
                int rc = (int) nvrtcCompileProgram.invokeExact(prog, options.size(), opts);
                if (rc != 0) {
                    check("nvrtcCompileProgram", rc, name + ": " + log(prog, arena).strip());
                }
                MemorySegment size = arena.allocate(SIZE_T);
                check("nvrtcGetPTXSize", (int) nvrtcGetPTXSize.invokeExact(prog, size), name);
                long bytes = size.get(SIZE_T, 0);
                MemorySegment ptx = arena.allocate(bytes);
                check("nvrtcGetPTX", (int) nvrtcGetPTX.invokeExact(prog, ptx), name);
                return ptx.getString(0, StandardCharsets.US_ASCII);
            } finally {
                MemorySegment holder = arena.allocate(PTR);
                holder.set(PTR, 0, prog);
                int ignored = (int) nvrtcDestroyProgram.invokeExact(holder);
            }
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private String log(MemorySegment prog, Arena arena) throws Throwable {
        MemorySegment size = arena.allocate(SIZE_T);
        if ((int) nvrtcGetProgramLogSize.invokeExact(prog, size) != 0) {
            return "(no log)";
        }
        MemorySegment log = arena.allocate(Math.max(1, size.get(SIZE_T, 0)));
        if ((int) nvrtcGetProgramLog.invokeExact(prog, log) != 0) {
            return "(no log)";
        }
        return log.getString(0, StandardCharsets.US_ASCII);
    }

    private static void check(String call, int rc, String detail) {
        if (rc != 0) {
            throw new CudaException(call, rc, ErrorNames.nvrtcResult(rc), detail);
        }
    }
}
