package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.ServeOptions;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.annotations.QuarkusMain;
import picocli.CommandLine;

/**
 * {@code java -jar gemma-server.jar --model model.gguf [options]}: parses the operator's CLI contract
 * ({@link ServeOptions}), maps it to Quarkus configuration, then runs until SIGTERM. Bad arguments exit 2 with one line.
 */
@QuarkusMain
public class ServerMain implements QuarkusApplication {

    /** The parsed options; set before Quarkus starts, read by {@link ModelHolder}. */
    static volatile ServeOptions options;

    /** 0, or {@link StartupFailure#EXIT_CODE} once start-up failed. */
    static volatile int exitCode;

    public static void main(String... args) {
        ServeOptions parsed;
        try {
            parsed = ServeOptions.parse(args);
        } catch (CommandLine.ParameterException e) {
            System.err.println("gemma-server: " + e.getMessage() + " (see --help)");
            System.exit(2);
            return;
        }
        CommandLine help = new CommandLine(parsed);
        if (help.isUsageHelpRequested() || containsAny(args, "-h", "--help")) {
            help.usage(System.out);
            return;
        }
        if (containsAny(args, "-V", "--version")) {
            System.out.println("gemma-server " + ServerMain.class.getPackage().getImplementationVersion());
            return;
        }
        String problem = check(parsed);
        if (problem != null) {
            System.err.println("gemma-server: " + problem);
            System.exit(2);
            return;
        }
        options = parsed;
        System.setProperty("quarkus.http.port", Integer.toString(parsed.port));
        System.setProperty("quarkus.http.host", parsed.host);
        // On SIGTERM Quarkus refuses new requests (503) and waits for in-flight ones up to this long.
        System.setProperty("quarkus.shutdown.timeout", parsed.drainTimeoutSeconds + "s");
        Quarkus.run(ServerMain.class, args);
    }

    @Override
    public int run(String... args) {
        Quarkus.waitForExit();
        return exitCode;
    }

    static String check(ServeOptions o) {
        if (!java.nio.file.Files.exists(o.model)) {
            return "--model " + o.model + ": no such file or directory";
        }
        if (o.port < 0 || o.port > 65535) {
            return "--port must be in 0..65535, got " + o.port;
        }
        if (o.maxContextLength < 2) {
            return "--max-context-length must be >= 2, got " + o.maxContextLength;
        }
        if (o.maxConcurrentSequences < 1) {
            return "--max-concurrent-sequences must be >= 1, got " + o.maxConcurrentSequences;
        }
        if (o.maxWaitingRequests < 0) {
            return "--max-waiting-requests must be >= 0, got " + o.maxWaitingRequests;
        }
        if (o.prefillChunk < 1) {
            return "--prefill-chunk must be >= 1, got " + o.prefillChunk;
        }
        if (o.drainTimeoutSeconds < 0) {
            return "--drain-timeout-seconds must be >= 0, got " + o.drainTimeoutSeconds;
        }
        if (o.apiKeyFile != null && !java.nio.file.Files.isReadable(o.apiKeyFile)) {
            return "--api-key-file " + o.apiKeyFile + ": cannot read it";
        }
        return null;
    }

    private static boolean containsAny(String[] args, String... names) {
        for (String a : args) {
            for (String n : names) {
                if (a.equals(n)) {
                    return true;
                }
            }
        }
        return false;
    }
}
