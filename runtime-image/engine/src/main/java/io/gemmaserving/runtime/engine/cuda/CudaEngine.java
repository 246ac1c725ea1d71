package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.EngineUnavailableException;
import java.nio.file.Path;

/** The CUDA engine: the whole forward pass on the device behind the {@link Engine} seam. */
public final class CudaEngine {

    private CudaEngine() {
    }

    /** Loads {@code model} onto the device(s); the caller has checked that CUDA is usable. */
    public static Engine open(Path model, EngineOptions options) {
        throw new EngineUnavailableException("backend cuda: the CUDA engine is not part of this build yet");
    }
}
