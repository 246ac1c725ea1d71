package io.gemmaserving.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** One slot and one waiting place: a burst gets 429 + Retry-After; SIGTERM lets the running stream finish. */
@Tag("server")
class OverloadAndDrainIT {

    @Test
    void fullQueueGets429ThenSigtermDrainsTheRunningStream() throws Exception {
        try (ServerProcess server = ServerProcess.start("overload-drain-it", List.of(), "--max-context-length", "256",
                "--max-concurrent-sequences", "1", "--max-waiting-requests", "1", "--drain-timeout-seconds", "60")) {
            String body = "{\"model\":\"" + server.modelName + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":0}";
            List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                burst.add(ServerProcess.HTTP.sendAsync(HttpRequest.newBuilder(server.uri("/v1/completions"))
                        .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
            }
            int ok = 0;
            int refused = 0;
            for (CompletableFuture<HttpResponse<String>> f : burst) {
                HttpResponse<String> r = f.get(120, TimeUnit.SECONDS);
                if (r.statusCode() == 200) {
                    ok++;
                } else {
                    assertEquals(429, r.statusCode(), r.body());
                    assertEquals("1", r.headers().firstValue("Retry-After").orElse(null));
                    assertEquals("queue_full", ServerProcess.JSON.readTree(r.body()).path("error").path("code").asText());
                    refused++;
                }
            }
            assertTrue(ok >= 1, "the request that got the slot is served, got " + ok);
            assertEquals(8, ok + refused);
            assertTrue(refused >= 1, "8 at once with room for 2 must refuse some");
            assertTrue(server.metric("gemma_requests_rejected_total") >= refused);

            // A long stream is running when SIGTERM arrives: it must run to its end, then the process exits.
            String stream = "{\"model\":\"" + server.modelName + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":40,"
                    + "\"temperature\":0,\"stream\":true}";
            HttpResponse<InputStream> r = ServerProcess.HTTP.send(HttpRequest.newBuilder(server.uri("/v1/completions"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(stream)).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
            String first = reader.readLine();
            assertTrue(first != null && first.startsWith("data: "), first);
            server.process.destroy(); // SIGTERM
            StringBuilder rest = new StringBuilder(first).append('\n');
            for (String line; (line = reader.readLine()) != null; ) {
                rest.append(line).append('\n');
            }
            assertTrue(rest.toString().contains("\"finish_reason\":\"length\""), rest.toString());
            assertTrue(rest.toString().endsWith("data: [DONE]\n\n"), rest.toString());
            assertTrue(server.process.waitFor(60, TimeUnit.SECONDS), "exited after draining");
            int code = server.process.exitValue();
            assertTrue(code == 0 || code == 143, "clean exit after SIGTERM (0, or 143 = 128 + SIGTERM), got " + code);
        }
    }
}
