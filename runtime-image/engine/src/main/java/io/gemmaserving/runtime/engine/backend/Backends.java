package io.gemmaserving.runtime.engine.backend;

import io.gemmaserving.runtime.engine.tensor.Simd;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.util.Locale;

/** Chooses the backend at start-up and says which in the log. */
public final class Backends {

    private static final System.Logger LOG = System.getLogger(Backends.class.getName());

    private Backends() {
    }

    /**
     * The CPU backend named {@code requested} ({@code auto}, {@code cpu}, {@code vector}, {@code scalar}, or null for
     * auto). {@code auto} and {@code cpu} mean the Vector API backend, or the scalar one when the
     * {@code jdk.incubator.vector} module is not loaded.
     *
     * @param threads compute threads for the vector backend; 0 or less means one per available processor
     * @throws IllegalArgumentException for an unknown name ({@code cuda} is the CUDA engine's, see Engines)
     */
    public static Backend select(String requested, int threads) {
        String name = (requested == null ? "auto" : requested).trim().toLowerCase(Locale.ROOT);
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        boolean vectorApi = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        Backend backend = switch (name) {
            case "scalar" -> new ScalarBackend();
            case "vector" -> {
                if (!vectorApi) {
                    throw new IllegalArgumentException("backend vector needs the JVM flag --add-modules jdk.incubator.vector");
                }
                yield new VectorBackend(n);
            }
            case "auto", "cpu" -> vectorApi ? new VectorBackend(n) : new ScalarBackend();
            default -> throw new IllegalArgumentException("unknown CPU backend '" + name + "' (auto, cpu, vector, scalar)");
        };
        String why = " (asked: " + name + ")";
        if (backend instanceof VectorBackend v) {
            LOG.log(System.Logger.Level.INFO, "Compute backend: vector, " + Simd.L + " float lanes, "
                    + v.threads() + " threads" + why);
        } else {
            LOG.log(System.Logger.Level.INFO, "Compute backend: scalar reference, 1 thread" + why
                    + (vectorApi ? "" : "; jdk.incubator.vector is not loaded"));
        }
        return backend;
    }

    /** Checks the arrays against the shapes; returns rows as an int. */
    static int checkShapes(WeightTensor w, float[] x, float[] out, int batch) {
        if (w.rows() > Integer.MAX_VALUE || batch * w.rows() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("matmul " + w.name() + ": " + batch + " x " + w.rows() + " outputs do not fit an array");
        }
        int rows = (int) w.rows();
        if (batch < 1 || (long) batch * w.cols() > x.length || (long) batch * rows > out.length) {
            throw new IllegalArgumentException("matmul " + w.name() + " [" + rows + " x " + w.cols() + "] batch " + batch
                    + ": x has " + x.length + " floats (needs " + (long) batch * w.cols() + "), out has " + out.length
                    + " (needs " + (long) batch * rows + ")");
        }
        return rows;
    }
}
