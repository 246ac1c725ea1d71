package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Small helpers shared by the bindings: downcall handles and the C types we use. */
final class Native {

    static final Linker LINKER = Linker.nativeLinker();

    /** C {@code int} / enums / {@code CUresult}. */
    static final java.lang.foreign.ValueLayout.OfInt INT = JAVA_INT;
    /** {@code size_t} and {@code CUdeviceptr} (64-bit on the only platform we support, linux-x86_64/aarch64). */
    static final java.lang.foreign.ValueLayout.OfLong SIZE_T = JAVA_LONG;
    /** Any pointer or opaque handle ({@code CUcontext}, {@code CUstream}, {@code nvrtcProgram}, ...). */
    static final java.lang.foreign.AddressLayout PTR = ADDRESS;

    private Native() {
    }

    /** The downcall for {@code name}; a {@link CudaException} naming the symbol when the library lacks it. */
    static MethodHandle function(SymbolLookup lib, String libName, String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = lib.find(name)
                .orElseThrow(() -> new CudaException(libName + " has no symbol " + name + " (library too old?)"));
        return LINKER.downcallHandle(symbol, descriptor);
    }

    /** {@code int f(args...)}: the shape of every CUDA API call. */
    static FunctionDescriptor status(java.lang.foreign.MemoryLayout... args) {
        return FunctionDescriptor.of(INT, args);
    }

    /** Rethrows what a downcall threw: they throw nothing checked in practice, but the signature says Throwable. */
    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
