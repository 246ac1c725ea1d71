package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.EngineUnavailableException;
import io.gemmaserving.runtime.engine.gguf.GgufFormatException;
import io.gemmaserving.runtime.engine.safetensors.SafetensorsFormatException;
import io.quarkus.runtime.Quarkus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The end of a server that cannot start: one line on stderr, the same line in Kubernetes' termination-message file
 * (when it is writable; the kubelet creates it in every container), and exit code 1.
 */
final class StartupFailure {

    static final int EXIT_CODE = 1;

    private StartupFailure() {
    }

    /**
     * The one line for a failure while starting on {@code model}. The engine's own exceptions (an unusable backend,
     * a file that is not a Gemma, a malformed GGUF or safetensors file) carry a line that names what is wrong; other
     * causes get their type in front of their message.
     */
    static String line(Path model, Throwable e) {
        Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
        String message = cause.getMessage() == null || cause.getMessage().isBlank()
                ? cause.getClass().getSimpleName() : cause.getMessage();
        String line;
        if (cause instanceof NoSuchFileException) {
            line = message + ": no such file";
        } else if (cause instanceof IOException) {
            line = "cannot read " + model + ": " + message;
        } else if (cause instanceof EngineUnavailableException || cause instanceof IllegalArgumentException
                || cause instanceof GgufFormatException || cause instanceof SafetensorsFormatException) {
            line = message;
        } else {
            line = cause.getClass().getSimpleName() + ": " + message;
        }
        return line.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
    }

    /** Writes {@code line} to stderr and to {@code terminationLog} (when writable), then exits with {@value #EXIT_CODE}. */
    static void exit(Path terminationLog, String line) {
        System.err.println("gemma-server: " + line);
        System.err.flush();
        writeTerminationMessage(terminationLog, line);
        ServerMain.exitCode = EXIT_CODE;
        Quarkus.asyncExit(EXIT_CODE);
    }

    /** Kubernetes reads at most 4096 bytes of the file; a one-line reason is far shorter. */
    static void writeTerminationMessage(Path file, String line) {
        if (file == null || !Files.isWritable(file)) {
            return;
        }
        try {
            Files.writeString(file, line + "\n", StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            // stderr already has the line; the kubelet then shows the log's tail instead
        }
    }
}
