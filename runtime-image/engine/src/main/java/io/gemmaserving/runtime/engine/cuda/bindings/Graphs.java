package io.gemmaserving.runtime.engine.cuda.bindings;

import java.lang.foreign.MemorySegment;

/** Stream capture into CUDA graphs and their replay ({@link CudaGraphApi} is the real one). */
public interface Graphs {

    void beginCapture(MemorySegment stream);

    /** Ends the capture and returns the executable graph. */
    MemorySegment endCaptureAndInstantiate(MemorySegment stream);

    void launch(MemorySegment exec, MemorySegment stream);

    void destroy(MemorySegment exec);
}
