package io.gemmaserving.runtime.engine.cuda.bindings;

/**
 * A failed call into the CUDA driver, NVRTC or cuBLAS. The message is one line naming the call and the error code's
 * symbolic name, e.g. {@code cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)}.
 */
public final class CudaException extends RuntimeException {

    private final String call;
    private final int code;

    public CudaException(String call, int code, String codeName) {
        this(call, code, codeName, null);
    }

    public CudaException(String call, int code, String codeName, String detail) {
        super(call + " failed: " + codeName + " (" + code + ")" + (detail == null || detail.isBlank() ? "" : ": " + detail));
        this.call = call;
        this.code = code;
    }

    /** A failure that is not an error code (a library or symbol that cannot be found). */
    public CudaException(String message) {
        super(message);
        this.call = null;
        this.code = -1;
    }

    /** The native function that failed, or null. */
    public String call() {
        return call;
    }

    /** The error code it returned, or -1. */
    public int code() {
        return code;
    }
}
