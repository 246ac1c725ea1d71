package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.backend.Backend;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * Start-up choice between CUDA and the CPU for {@code --backend cuda} and {@code --backend auto}:
 * {@code cuda} refuses to start without a usable GPU (one line from {@link Cuda#availability()}); {@code auto} uses
 * CUDA when it is available and falls back to the CPU backend otherwise, saying why. Other names are the CPU
 * backends' business and are not handled here.
 */
public final class CudaBackends {

    /** The chosen backend and the line to log about the choice. */
    public record Selection(Backend backend, String explanation) {
    }

    private CudaBackends() {
    }

    /** Whether {@code requested} is a choice this helper makes. */
    public static boolean handles(String requested) {
        return "cuda".equals(requested) || "auto".equals(requested);
    }

    /**
     * @param requested          {@code cuda} or {@code auto}
     * @param tensorParallelSize GPUs to split the model across
     * @param cpuFallback        the CPU backend to use when {@code auto} finds no GPU
     * @throws IllegalStateException (one line) when {@code cuda} is requested and cannot be had
     */
    public static Selection selectOrExplain(String requested, int tensorParallelSize, Supplier<Backend> cpuFallback) {
        return select(requested, tensorParallelSize, cpuFallback, Cuda.availability(), CudaBackend::open);
    }

    static Selection select(String requested, int tp, Supplier<Backend> cpuFallback, Cuda.Availability a,
                            IntFunction<Backend> cudaFactory) {
        if (!handles(requested)) {
            throw new IllegalArgumentException("backend '" + requested + "' is not cuda or auto");
        }
        if (tp < 1 || Integer.bitCount(tp) != 1) {
            throw new IllegalArgumentException("--tensor-parallel-size " + tp + " is not a power of two (1, 2, 4, 8)");
        }
        if (!a.available()) {
            if (requested.equals("cuda")) {
                throw new IllegalStateException("--backend cuda: " + a.message());
            }
            return new Selection(cpuFallback.get(), "backend auto: CUDA unavailable (" + a.message() + "), using the CPU"
                    + (tp > 1 ? "; --tensor-parallel-size " + tp + " ignored" : ""));
        }
        if (tp > a.deviceCount()) {
            throw new IllegalStateException("--tensor-parallel-size " + tp + " needs " + tp + " GPUs, "
                    + a.deviceCount() + " visible");
        }
        return new Selection(cudaFactory.apply(tp), "backend " + requested + ": cuda on " + tp + " GPU"
                + (tp == 1 ? "" : "s") + " (" + a.message() + ")");
    }
}
