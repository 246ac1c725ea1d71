package io.gemmaserving.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.EngineUnavailableException;
import io.gemmaserving.runtime.engine.ServeOptions;
import io.gemmaserving.runtime.engine.gguf.GgufFormatException;
import io.gemmaserving.runtime.engine.model.Numerics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's wiring: its options reach the engine factory as one value, and a failure becomes one line. */
@Tag("unit")
class ModelHolderTest {

    @Test
    void threadsBackendAndTensorParallelSizeReachTheEngineFactory() {
        ServeOptions o = ServeOptions.parse("--model", "m.gguf", "--threads", "3", "--backend", "cuda",
                "--tensor-parallel-size", "2");
        AtomicReference<EngineOptions> asked = new AtomicReference<>();
        AtomicReference<Path> model = new AtomicReference<>();
        List<String> failures = new ArrayList<>();
        ModelHolder holder = new ModelHolder();
        holder.start(o, (path, options) -> {
            model.set(path);
            asked.set(options);
            throw new EngineUnavailableException("backend cuda is not usable here: no NVIDIA driver (libcuda.so.1)");
        }, failures::add);
        assertEquals(Path.of("m.gguf"), model.get());
        assertEquals(new EngineOptions("cuda", 3, 2, Numerics.F32), asked.get());
        assertEquals(List.of("backend cuda is not usable here: no NVIDIA driver (libcuda.so.1)"), failures);
        assertFalse(holder.loaded());
        assertFalse(holder.ready());
    }

    @Test
    void failuresAreOneLine() {
        Path m = Path.of("model.gguf");
        assertEquals("model.gguf: truncated at byte 24 (metadata key 3 of 40)",
                StartupFailure.line(m, new GgufFormatException("model.gguf: truncated at byte 24\n(metadata key 3 of 40)")));
        assertEquals("cannot read model.gguf: Input/output error",
                StartupFailure.line(m, new java.io.IOException("Input/output error")));
        assertEquals("NullPointerException: boom", StartupFailure.line(m, new NullPointerException("boom")));
        assertEquals("OutOfMemoryError: Java heap space", StartupFailure.line(m, new OutOfMemoryError("Java heap space")));
    }

    @Test
    void anUnreadableApiKeyIsAFailureToo(@TempDir Path tmp) {
        ServeOptions o = ServeOptions.parse("--model", "m.gguf", "--api-key-file", tmp.resolve("absent").toString());
        List<String> failures = new ArrayList<>();
        new ModelHolder().start(o, (path, options) -> {
            throw new AssertionError("the model must not load without its API key");
        }, failures::add);
        assertEquals(List.of(tmp.resolve("absent") + ": no such file"), failures);
    }

    @Test
    void theTerminationMessageGoesToAWritableFileOnly(@TempDir Path tmp) throws Exception {
        Path file = Files.createFile(tmp.resolve("termination-log"));
        StartupFailure.writeTerminationMessage(file, "backend cuda is not usable here: no GPU");
        assertEquals("backend cuda is not usable here: no GPU\n", Files.readString(file));
        Path absent = tmp.resolve("no-such-dir").resolve("termination-log");
        StartupFailure.writeTerminationMessage(absent, "x"); // the kubelet did not make one: stderr only
        assertFalse(Files.exists(absent));
    }
}
