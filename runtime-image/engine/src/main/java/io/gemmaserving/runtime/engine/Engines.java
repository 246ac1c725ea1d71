package io.gemmaserving.runtime.engine;

import io.gemmaserving.runtime.engine.cuda.Cuda;
import io.gemmaserving.runtime.engine.cuda.CudaEngine;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;

/** Opens a model on the engine its {@link EngineOptions} ask for, and says in the log which one runs it. */
public final class Engines {

    private static final System.Logger LOG = System.getLogger(Engines.class.getName());

    private Engines() {
    }

    /**
     * @throws EngineUnavailableException {@code cuda} asked for where no GPU or driver is usable (one line: what is
     *                                    missing)
     * @throws IllegalArgumentException   an unknown backend, a tensor-parallel size on the CPU, a file that is not a
     *                                    Gemma model (one line)
     */
    public static Engine open(Path model, EngineOptions options) throws IOException {
        Engine engine = switch (options.backend()) {
            case "cuda" -> {
                Cuda.Availability gpu = Cuda.availability();
                if (!gpu.available()) {
                    throw new EngineUnavailableException("backend cuda is not usable here: " + gpu.message());
                }
                yield CudaEngine.open(model, options);
            }
            case "auto" -> {
                Cuda.Availability gpu = Cuda.availability();
                if (gpu.available()) {
                    yield CudaEngine.open(model, options);
                }
                LOG.log(Level.INFO, "backend auto: no usable GPU (" + gpu.message() + "), running on the CPU");
                yield cpu(model, options, "auto");
            }
            case "cpu", "vector", "scalar" -> cpu(model, options, options.backend());
            default -> throw new IllegalArgumentException("unknown backend '" + options.backend()
                    + "' (auto, cuda, cpu, vector, scalar)");
        };
        LOG.log(Level.INFO, "Engine: " + engine.description());
        return engine;
    }

    private static Engine cpu(Path model, EngineOptions options, String backend) throws IOException {
        if (options.tensorParallelSize() > 1) {
            throw new IllegalArgumentException("--tensor-parallel-size " + options.tensorParallelSize()
                    + " needs the CUDA backend; the CPU engine runs on one host");
        }
        return ModelLoader.load(model, new ModelLoader.Options(backend, options.threads(), options.numerics()));
    }
}
