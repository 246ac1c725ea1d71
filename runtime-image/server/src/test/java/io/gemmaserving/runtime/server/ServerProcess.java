package io.gemmaserving.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The packaged server ({@code target/quarkus-app/quarkus-run.jar}) started as the operator's pods start it:
 * {@code java -jar} with the CLI options, on a free port, on the real Gemma 3 270M GGUF. Its log goes to
 * {@code target/<name>.log}. Tests skip (with the reason) when the model file or the packaged server is absent.
 */
final class ServerProcess implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final Process process;
    final int port;
    final Path log;
    final String modelName;

    private ServerProcess(Process process, int port, Path log, String modelName) {
        this.process = process;
        this.port = port;
        this.log = log;
        this.modelName = modelName;
    }

    static Path model() {
        String m = System.getenv("GEMMA_270M_GGUF");
        Assumptions.assumeTrue(m != null && !m.isBlank() && Files.isRegularFile(Path.of(m)),
                "GEMMA_270M_GGUF is not set or not a file: run hack/setup.sh (the real Gemma 3 270M GGUF)");
        return Path.of(m);
    }

    /** Starts the server on the 270M and waits until /health/ready says UP. */
    static ServerProcess start(String name, List<String> jvmProps, String... args) throws Exception {
        Path model = model();
        int port = freePort();
        List<String> cmd = command(jvmProps, model, port);
        cmd.addAll(List.of(args));
        Path log = Path.of("target", name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ServerProcess server = new ServerProcess(p, port, log, model.getFileName().toString().replace(".gguf", ""));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("server exited with " + p.exitValue() + ": " + Files.readString(log));
            }
            try {
                HttpResponse<String> r = server.get("/health/ready");
                if (r.statusCode() == 200) {
                    return server;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(250);
        }
        server.close();
        throw new AssertionError("server not ready in 180 s; log: " + Files.readString(log));
    }

    /** Runs the server on {@code model} until it exits by itself (at most 120 s); its exit code. */
    static int runToExit(String name, Path model, String... args) throws Exception {
        List<String> cmd = command(List.of(), model, freePort());
        cmd.addAll(List.of(args));
        Path log = Path.of("target", name + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("server still running after 120 s; log: " + Files.readString(log));
        }
        return p.exitValue();
    }

    private static List<String> command(List<String> jvmProps, Path model, int port) {
        Path jar = Path.of("target/quarkus-app/quarkus-run.jar");
        Assumptions.assumeTrue(Files.isRegularFile(jar), "target/quarkus-app/quarkus-run.jar not built (run mvn verify)");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--add-opens", "java.base/java.lang=ALL-UNNAMED", "-Xmx2g"));
        cmd.addAll(jvmProps);
        cmd.addAll(List.of("-jar", jar.toString(), "--model", model.toString(), "--port", Integer.toString(port),
                "--host", "127.0.0.1", "--threads", "2"));
        return cmd;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The value of a Prometheus sample line {@code name value} (no labels), or NaN. */
    double metric(String name) throws IOException, InterruptedException {
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        return Double.NaN;
    }

    /** Concatenated content (chat) or text (completions) of an SSE body, and whether it ended with [DONE]. */
    static String streamedText(String sse) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String line : sse.split("\n")) {
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                continue;
            }
            JsonNode chunk = JSON.readTree(line.substring(6));
            for (JsonNode c : chunk.path("choices")) {
                sb.append(c.path("delta").path("content").asText(""));
                sb.append(c.path("text").asText(""));
            }
        }
        return sb.toString();
    }

    @Override
    public void close() throws Exception {
        process.destroy(); // SIGTERM
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
