package io.gemmaserving.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.gemmaserving.runtime.engine.cuda.Cuda;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged server that cannot start, as a Kubernetes admin sees it: the process exits non-zero (the pod goes
 * into CrashLoopBackOff), stderr has one line saying why and no stack trace, and the same line is in the
 * termination-message file.
 */
@Tag("server")
class StartupFailureIT {

    /** A GGUF header that promises 40 metadata entries and ends after the counts. */
    static Path truncatedGguf(Path dir) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        b.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(1).putLong(40);
        return Files.write(dir.resolve("truncated.gguf"), b.array());
    }

    /** The server's output lines that are its failure line (it prints with this prefix; Quarkus' log does not). */
    static List<String> failureLines(Path log) throws Exception {
        return Files.readAllLines(log).stream().filter(l -> l.startsWith("gemma-server: ")).toList();
    }

    static void assertOneLineFailure(Path log, Path terminationLog, int exit, String expectedStart) throws Exception {
        String out = Files.readString(log);
        assertEquals(StartupFailure.EXIT_CODE, exit, out);
        List<String> lines = failureLines(log);
        assertEquals(1, lines.size(), out);
        String line = lines.get(0).substring("gemma-server: ".length());
        assertTrue(line.startsWith(expectedStart), line);
        assertFalse(out.contains("\tat "), "no stack trace: " + out);
        assertEquals(line + "\n", Files.readString(terminationLog));
    }

    @Test
    void aTruncatedGgufExitsWithOneLine(@TempDir Path tmp) throws Exception {
        Path model = truncatedGguf(tmp);
        Path terminationLog = Files.createFile(tmp.resolve("termination-log"));
        int exit = ServerProcess.runToExit("startup-failure-truncated", model,
                "--termination-message-path", terminationLog.toString());
        assertOneLineFailure(Path.of("target", "startup-failure-truncated.log"), terminationLog, exit, "truncated.gguf: ");
    }

    @Test
    void cudaWithoutAGpuExitsWithOneLine(@TempDir Path tmp) throws Exception {
        assumeFalse(Cuda.availability().available(), "a GPU is usable here: the CUDA engine would start");
        Path model = truncatedGguf(tmp); // never opened: the backend is checked first
        Path terminationLog = Files.createFile(tmp.resolve("termination-log"));
        int exit = ServerProcess.runToExit("startup-failure-cuda", model, "--backend", "cuda",
                "--termination-message-path", terminationLog.toString());
        assertOneLineFailure(Path.of("target", "startup-failure-cuda.log"), terminationLog, exit,
                "backend cuda is not usable here: ");
    }
}
