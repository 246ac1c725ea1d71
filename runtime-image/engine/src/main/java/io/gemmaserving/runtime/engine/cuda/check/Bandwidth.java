package io.gemmaserving.runtime.engine.cuda.check;

import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import java.lang.foreign.MemorySegment;

/**
 * A GPU's memory bandwidth two ways: the peak from its memory clock and bus width (DDR: two transfers per clock),
 * and what a device-to-device copy reaches (read + write bytes over the copy's event-timed duration), the
 * practical ceiling a bandwidth-bound decode step is measured against.
 */
public final class Bandwidth {

    /** @param peak bytes/s from the attributes, 0 when the driver does not report them */
    public record Figures(double peak, double copy) {
    }

    private Bandwidth() {
    }

    /** Peak bytes/s: 2 x memory clock x bus width / 8. */
    public static double peak(long memoryClockKHz, long busWidthBits) {
        return 2.0 * memoryClockKHz * 1000 * busWidthBits / 8;
    }

    /** Measures device {@code ordinal} (its primary context is made current and released). */
    public static Figures measure(CudaDriver cu, int ordinal, long bytes, int repeats) {
        int dev = cu.device(ordinal);
        double peak;
        try {
            peak = peak(cu.deviceAttribute(CudaDriver.ATTR_MEMORY_CLOCK_RATE, dev),
                    cu.deviceAttribute(CudaDriver.ATTR_GLOBAL_MEMORY_BUS_WIDTH, dev));
        } catch (CudaException e) {
            peak = 0;
        }
        MemorySegment ctx = cu.primaryCtxRetain(dev);
        try {
            cu.ctxSetCurrent(ctx);
            MemorySegment stream = cu.streamCreate(CudaDriver.STREAM_NON_BLOCKING);
            long a = cu.memAlloc(bytes);
            long b = cu.memAlloc(bytes);
            MemorySegment start = cu.eventCreate(0);
            MemorySegment end = cu.eventCreate(0);
            try {
                cu.memcpyDtoDAsync(b, a, bytes, stream); // untimed first copy
                cu.eventRecord(start, stream);
                for (int i = 0; i < repeats; i++) {
                    cu.memcpyDtoDAsync(i % 2 == 0 ? b : a, i % 2 == 0 ? a : b, bytes, stream);
                }
                cu.eventRecord(end, stream);
                cu.eventSynchronize(end);
                double ms = cu.eventElapsedTime(start, end);
                return new Figures(peak, 2.0 * bytes * repeats / (ms / 1e3));
            } finally {
                cu.memFree(a);
                cu.memFree(b);
                cu.eventDestroy(start);
                cu.eventDestroy(end);
                cu.streamDestroy(stream);
            }
        } finally {
            cu.primaryCtxRelease(dev);
        }
    }
}
