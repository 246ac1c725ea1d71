package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.cuda.bindings.ErrorNames;

/**
 * Whether CUDA can be used here, in one line: the driver library loads, {@code cuInit} succeeds and at least one
 * device is visible. Probed once and cached.
 */
public final class Cuda {

    /** @param message when available, the devices ("2 CUDA devices, driver 12.4"); else why not, in one line */
    public record Availability(boolean available, int deviceCount, String message) {
    }

    /** The three facts availability depends on, so the reasoning is testable without a driver. */
    interface Probe {
        /** Loads the driver; throws {@link CudaException} with the one-line reason when it cannot. */
        void load();

        int init();

        int deviceCount();

        int driverVersion();
    }

    private static volatile Availability cached;

    private Cuda() {
    }

    /** Cached availability of this machine's CUDA. */
    public static Availability availability() {
        Availability a = cached;
        if (a == null) {
            a = probe(new DriverProbe());
            cached = a;
        }
        return a;
    }

    static Availability probe(Probe p) {
        try {
            p.load();
        } catch (CudaException | UnsatisfiedLinkError e) {
            return new Availability(false, 0, oneLine(e.getMessage()));
        }
        int rc = p.init();
        if (rc != 0) {
            return new Availability(false, 0, "cuInit failed: " + ErrorNames.cuResult(rc));
        }
        int n = p.deviceCount();
        if (n <= 0) {
            return new Availability(false, 0, "cuInit succeeded but no CUDA device is visible");
        }
        int v = p.driverVersion();
        return new Availability(true, n, n + " CUDA device" + (n == 1 ? "" : "s") + ", driver " + v / 1000 + "." + (v % 1000) / 10);
    }

    private static String oneLine(String s) {
        return s == null ? "CUDA unavailable" : s.lines().findFirst().orElse(s);
    }

    /** The real probe through the driver bindings. */
    private static final class DriverProbe implements Probe {
        private CudaDriver driver;

        @Override
        public void load() {
            driver = CudaDriver.load();
        }

        @Override
        public int init() {
            return driver.initRaw();
        }

        @Override
        public int deviceCount() {
            return driver.deviceCount();
        }

        @Override
        public int driverVersion() {
            return driver.driverVersion();
        }
    }
}
