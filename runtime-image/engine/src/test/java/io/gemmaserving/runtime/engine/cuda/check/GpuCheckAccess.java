package io.gemmaserving.runtime.engine.cuda.check;

import io.gemmaserving.runtime.engine.model.GemmaConfig;

/** Test access to the GPU check's model shapes from other packages. */
public final class GpuCheckAccess {

    private GpuCheckAccess() {
    }

    public static GemmaConfig gemma2_9b() {
        return GpuCheck.gemma2_9b();
    }
}
