package io.gemmaserving.runtime.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.EngineUnavailableException;
import io.gemmaserving.runtime.engine.Engines;
import io.gemmaserving.runtime.engine.ServeOptions;
import io.gemmaserving.runtime.engine.cuda.Cuda;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The runtime's settings reach the engine as values: from the server's command line ({@link ServeOptions}) through
 * {@link EngineOptions} and {@link Engines#open} to the engine that runs the tiny Gemma 3 GGUF.
 */
@Tag("unit")
class EnginesTest {

    static final Path TINY = TinyFixtures.fixtures().resolve("tiny-gemma3-f16.gguf");

    private static EngineOptions parsed(String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "--model";
        all[1] = TINY.toString();
        System.arraycopy(args, 0, all, 2, args.length);
        return ServeOptions.parse(all).engineOptions();
    }

    @Test
    void serveOptionsBecomeEngineOptions() {
        assertEquals(new EngineOptions("scalar", 3, 2, Numerics.F32),
                parsed("--backend", "scalar", "--threads", "3", "--tensor-parallel-size", "2"));
        assertEquals(EngineOptions.defaults(), parsed());
    }

    @Test
    void threadsAndBackendReachTheCpuEngine() throws Exception {
        try (Engine e = Engines.open(TINY, parsed("--backend", "vector", "--threads", "3"))) {
            assertEquals("cpu (vector, 3 threads)", e.description());
        }
        try (Engine e = Engines.open(TINY, parsed("--backend", "vector", "--threads", "1"))) {
            assertEquals("cpu (vector, 1 thread)", e.description());
        }
        try (Engine e = Engines.open(TINY, parsed("--backend", "scalar", "--threads", "3"))) {
            assertEquals("cpu (scalar, 1 thread)", e.description(), "the scalar reference runs on the caller alone");
        }
    }

    @Test
    void tensorParallelSizeReachesTheEngine() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> Engines.open(TINY, parsed("--backend", "cpu", "--tensor-parallel-size", "2")));
        assertEquals("--tensor-parallel-size 2 needs the CUDA backend; the CPU engine runs on one host", e.getMessage());
    }

    @Test
    void cudaWithoutAGpuIsOneLine() {
        assumeFalse(Cuda.availability().available(), "a GPU is usable here: the CUDA engine opens instead");
        var e = assertThrows(EngineUnavailableException.class, () -> Engines.open(TINY, parsed("--backend", "cuda")));
        assertTrue(e.getMessage().startsWith("backend cuda is not usable here: "), e.getMessage());
        assertEquals(-1, e.getMessage().indexOf('\n'), e.getMessage());
    }

    @Test
    void autoFallsBackToTheCpu() throws Exception {
        assumeFalse(Cuda.availability().available(), "a GPU is usable here: auto picks it");
        try (Engine e = Engines.open(TINY, parsed("--threads", "2"))) {
            assertTrue(e.description().startsWith("cpu ("), e.description());
        }
    }

    @Test
    void unknownBackendIsOneLine() {
        var e = assertThrows(IllegalArgumentException.class, () -> Engines.open(TINY, parsed("--backend", "tpu")));
        assertEquals("unknown backend 'tpu' (auto, cuda, cpu, vector, scalar)", e.getMessage());
    }
}
