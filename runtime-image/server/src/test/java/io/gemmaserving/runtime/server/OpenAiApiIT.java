package io.gemmaserving.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The server on the real Gemma 3 270M, driven by the official OpenAI clients (Java and Python) and raw HTTP. */
@Tag("server")
class OpenAiApiIT {

    static final String KEY = "test-key-" + System.nanoTime();
    static ServerProcess server;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        Path keyFile = Files.createTempFile("gemma-api-key", ".txt");
        Files.writeString(keyFile, KEY + "\n");
        server = ServerProcess.start("openai-api-it", List.of(), "--max-context-length", "512",
                "--max-concurrent-sequences", "4", "--kv-cache-dtype", "f32", "--max-waiting-requests", "32", "--api-key-file", keyFile.toString());
        client = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + server.port + "/v1").apiKey(KEY)
                .maxRetries(0).timeout(Duration.ofSeconds(120)).build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
            int code = server.process.exitValue();
            assertTrue(code == 0 || code == 143, "clean exit after SIGTERM (0, or 143 = 128 + SIGTERM), got " + code);
        }
    }

    private static String auth() {
        return "Bearer " + KEY;
    }

    private ChatCompletionCreateParams.Builder chat(String question) {
        return ChatCompletionCreateParams.builder().model(server.modelName).addUserMessage(question)
                .maxCompletionTokens(10).temperature(0.0).seed(11);
    }

    @Test
    void javaClientListsTheModel() {
        List<Model> models = client.models().list().data();
        assertEquals(List.of(server.modelName), models.stream().map(Model::id).toList());
    }

    @Test
    void javaClientChatPlainAndStreamedAgree() {
        ChatCompletion plain = client.chat().completions().create(chat("What is the capital of France?").build());
        String text = plain.choices().get(0).message().content().orElseThrow();
        var usage = plain.usage().orElseThrow();
        assertTrue(usage.promptTokens() > 5 && usage.completionTokens() > 0, usage.toString());
        assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens());

        StringBuilder streamed = new StringBuilder();
        long[] streamedUsage = {-1};
        String[] finish = {null};
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(
                chat("What is the capital of France?")
                        .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunk -> {
                chunk.usage().ifPresent(u -> streamedUsage[0] = u.completionTokens());
                for (var c : chunk.choices()) {
                    c.delta().content().ifPresent(streamed::append);
                    c.finishReason().ifPresent(f -> finish[0] = f.asString());
                }
            });
        }
        assertEquals(text, streamed.toString(), "greedy: the stream carries the same text as the plain answer");
        assertEquals(usage.completionTokens(), streamedUsage[0]);
        assertEquals(plain.choices().get(0).finishReason().asString(), finish[0]);
    }

    @Test
    void javaClientCompletion() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model(server.modelName)
                .prompt("The three primary colours are").maxTokens(6).temperature(0.0).build());
        assertEquals(6, c.usage().orElseThrow().completionTokens(), "max_tokens 6 and no end token that early");
        assertEquals("length", c.choices().get(0).finishReason().asString());
        assertFalse(c.choices().get(0).text().isEmpty());
    }

    @Test
    void pythonClientPlainAndStreaming() throws Exception {
        String venv = System.getenv("GEMMA_VENV");
        Assumptions.assumeTrue(venv != null && Files.isExecutable(Path.of(venv, "bin", "python")),
                "GEMMA_VENV has no python (hack/setup.d/10-python.sh installs it with openai)");
        Process p = new ProcessBuilder(Path.of(venv, "bin", "python").toString(), "src/test/python/openai_client_check.py",
                "http://127.0.0.1:" + server.port + "/v1", KEY, server.modelName).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        JsonNode seen = ServerProcess.JSON.readTree(out.lines().reduce((a, b) -> b).orElseThrow());
        assertEquals("temperature", seen.path("error").path("param").asText(), out);
    }

    private ChatCompletionCreateParams.Builder sampled(long n, long seed) {
        return ChatCompletionCreateParams.builder().model(server.modelName).addUserMessage("Tell me about the moon.")
                .maxCompletionTokens(12).temperature(1.0).topP(0.95).seed(seed).n(n);
    }

    @Test
    void javaClientNChoicesAreSeededReproducibleAndStreamedByIndex() {
        ChatCompletion two = client.chat().completions().create(sampled(2, 21).build());
        assertEquals(2, two.choices().size());
        assertEquals(List.of(0L, 1L), two.choices().stream().map(ChatCompletion.Choice::index).toList());
        List<String> texts = two.choices().stream().map(c -> c.message().content().orElseThrow()).toList();
        assertTrue(!texts.get(0).equals(texts.get(1)), "two sampled choices with different seeds differ: " + texts);

        ChatCompletion again = client.chat().completions().create(sampled(2, 21).build());
        assertEquals(texts, again.choices().stream().map(c -> c.message().content().orElseThrow()).toList(),
                "the same seed gives the same choices");
        ChatCompletion one = client.chat().completions().create(sampled(1, 21).build());
        assertEquals(texts.get(0), one.choices().get(0).message().content().orElseThrow(), "choice 0 is the n = 1 answer");

        var u2 = two.usage().orElseThrow();
        var u1 = one.usage().orElseThrow();
        assertEquals(u1.promptTokens(), u2.promptTokens(), "the prompt is counted once");
        assertTrue(u2.completionTokens() > u1.completionTokens(), "completion tokens of both choices: " + u2);
        assertEquals(u2.promptTokens() + u2.completionTokens(), u2.totalTokens());

        StringBuilder[] streamed = {new StringBuilder(), new StringBuilder()};
        String[] finish = new String[2];
        long[] usage = {-1};
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(sampled(2, 21)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(chunk -> {
                chunk.usage().ifPresent(u -> usage[0] = u.completionTokens());
                for (var c : chunk.choices()) {
                    int i = (int) c.index();
                    c.delta().content().ifPresent(streamed[i]::append);
                    c.finishReason().ifPresent(f -> finish[i] = f.asString());
                }
            });
        }
        assertEquals(texts, List.of(streamed[0].toString(), streamed[1].toString()), "streamed choices by index");
        assertEquals(two.choices().get(0).finishReason().asString(), finish[0]);
        assertEquals(two.choices().get(1).finishReason().asString(), finish[1]);
        assertEquals(u2.completionTokens(), usage[0]);
    }

    @Test
    void penaltiesChangeTheGreedyContinuation() {
        CompletionCreateParams.Builder b = CompletionCreateParams.builder().model(server.modelName)
                .prompt("one two one two one two one two one two one two").maxTokens(16).temperature(0.0);
        String plain = client.completions().create(b.build()).choices().get(0).text();
        String frequency = client.completions().create(b.frequencyPenalty(2.0).build()).choices().get(0).text();
        String presence = client.completions().create(b.frequencyPenalty(0.0).presencePenalty(2.0).build())
                .choices().get(0).text();
        assertTrue(!frequency.equals(plain), "frequency_penalty 2 changed the greedy text: " + plain);
        assertTrue(!presence.equals(plain), "presence_penalty 2 changed the greedy text: " + plain);
    }

    @Test
    void apiKeyIsRequiredOnTheApiButNotOnProbes() throws Exception {
        String body = "{\"model\":\"" + server.modelName + "\",\"prompt\":\"hi\",\"max_tokens\":1}";
        HttpResponse<String> none = server.post("/v1/completions", body);
        assertEquals(401, none.statusCode());
        assertEquals("invalid_api_key", ServerProcess.JSON.readTree(none.body()).path("error").path("code").asText());
        assertEquals(401, server.post("/v1/completions", body, "Authorization", "Bearer " + KEY + "x").statusCode());
        assertEquals(200, server.post("/v1/completions", body, "Authorization", auth()).statusCode());
        assertEquals(200, server.get("/health/ready").statusCode());
        assertEquals(200, server.get("/metrics").statusCode());
    }

    @Test
    void badRequestsGet400WithTheOpenAiErrorShape() throws Exception {
        String m = server.modelName;
        String longPrompt = "word ".repeat(700);
        Object[][] cases = {
            {"/v1/chat/completions", "{\"model\": ", null, "invalid_json"},
            {"/v1/chat/completions", "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "model", "model_not_found"},
            {"/v1/chat/completions", "{\"model\":\"" + m + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":-1}", "temperature", null},
            {"/v1/chat/completions", "{\"model\":\"" + m + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":0}", "max_tokens", null},
            {"/v1/chat/completions", "{\"model\":\"" + m + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1000000}", "max_tokens", "context_length_exceeded"},
            {"/v1/chat/completions", "{\"model\":\"" + m + "\",\"messages\":[]}", "messages", null},
            {"/v1/chat/completions", "{\"model\":\"" + m + "\",\"messages\":[{\"role\":\"assistant\",\"content\":\"\"}]}", "messages", null},
            {"/v1/completions", "{\"model\":\"" + m + "\",\"prompt\":\"" + longPrompt + "\"}", "prompt", "context_length_exceeded"},
            {"/v1/completions", "{\"model\":\"" + m + "\",\"prompt\":\"hi\",\"top_p\":1.5}", "top_p", null},
            {"/v1/completions", "{\"model\":\"" + m + "\",\"prompt\":\"hi\",\"n\":0}", "n", null},
            {"/v1/completions", "{\"model\":\"" + m + "\",\"prompt\":\"hi\",\"n\":100}", "n", null},
            {"/v1/completions", "{\"model\":\"" + m + "\",\"prompt\":\"hi\",\"frequency_penalty\":2.5}", "frequency_penalty", null},
        };
        for (Object[] c : cases) {
            HttpResponse<String> r = server.post((String) c[0], (String) c[1], "Authorization", auth());
            assertEquals(400, r.statusCode(), r.body());
            JsonNode err = ServerProcess.JSON.readTree(r.body()).path("error");
            assertEquals("invalid_request_error", err.path("type").asText(), r.body());
            assertTrue(err.path("message").isTextual() && !err.path("message").asText().contains("\n"), r.body());
            assertTrue(err.has("param") && err.has("code"), r.body());
            assertEquals(c[2] == null ? null : (String) c[2], err.path("param").isNull() ? null : err.path("param").asText(), r.body());
            if (c[3] != null) {
                assertEquals(c[3], err.path("code").asText(), r.body());
            }
        }
    }

    private static String streamBody(int i, int maxTokens) {
        return "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me fact number %d about the sea.\"}],"
                .formatted(server.modelName, i)
                + "\"max_tokens\":%d,\"temperature\":0.8,\"top_p\":0.95,\"seed\":%d,\"stream\":true}".formatted(maxTokens, 100 + i);
    }

    private static CompletableFuture<HttpResponse<String>> postAsync(String body) {
        return ServerProcess.HTTP.sendAsync(HttpRequest.newBuilder(server.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(240)).header("Authorization", auth()).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void sixteenConcurrentSeededStreamsEqualTheSameRequestsAlone() throws Exception {
        int n = 16;
        int maxTokens = 10;
        List<String> alone = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = postAsync(streamBody(i, maxTokens)).get(120, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().endsWith("data: [DONE]\n\n"), r.body());
            alone.add(ServerProcess.streamedText(r.body()));
        }
        double stepsBefore = server.metric("gemma_generation_tokens_total");
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(postAsync(streamBody(i, maxTokens)));
        }
        for (int i = 0; i < n; i++) {
            HttpResponse<String> r = futures.get(i).get(240, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(alone.get(i), ServerProcess.streamedText(r.body()), "request " + i + " alone vs among 16");
        }
        assertTrue(server.metric("gemma_generation_tokens_total") > stepsBefore);
        assertTrue(alone.stream().distinct().count() > 1, "different seeds and prompts gave different texts");
    }

    @Test
    void disconnectMidStreamFreesTheSequence() throws Exception {
        HttpResponse<InputStream> r = ServerProcess.HTTP.send(HttpRequest.newBuilder(server.uri("/v1/chat/completions"))
                .header("Authorization", auth()).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(streamBody(99, 400))).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
        int events = 0;
        while (events < 3) {
            String line = reader.readLine();
            if (line != null && line.startsWith("data: ")) {
                events++;
            }
        }
        assertEquals(1.0, server.metric("vllm:num_requests_running"), "the stream is running");
        r.body().close(); // the client goes away
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (server.metric("vllm:num_requests_running") != 0.0) {
            assertTrue(System.nanoTime() < deadline, "running requests did not drop after the disconnect");
            Thread.sleep(50);
        }
        assertTrue(server.metric("gemma_generation_tokens_total") >= 0);
    }

    @Test
    void metricsCarryTheQueueGaugesUnderOurAndVllmNames() throws Exception {
        String metrics = server.get("/metrics").body();
        for (String name : List.of("vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc",
                "gemma_requests_waiting", "gemma_requests_running", "gemma_kv_cache_usage_ratio",
                "gemma_time_to_first_token_seconds_bucket", "gemma_inter_token_latency_seconds_bucket",
                "gemma_prompt_tokens_total", "gemma_generation_tokens_total", "vllm:prefix_cache_queries_total",
                "vllm:prefix_cache_hits_total", "vllm:spec_decode_num_draft_tokens_total",
                "vllm:spec_decode_num_accepted_tokens_total", "gemma_prefix_cache_bytes")) {
            assertTrue(metrics.contains("\n" + name), "no " + name + " in /metrics");
        }
    }

    @Test
    void aRepeatedPromptComesFromThePrefixCacheWithTheSameAnswer() throws Exception {
        String body = "{\"model\":\"" + server.modelName + "\",\"prompt\":\"The lighthouse keeper wrote in his log"
                + " every evening: the wind, the ships that passed, the colour of the sea.\",\"max_tokens\":8,"
                + "\"temperature\":0}";
        double q0 = server.metric("vllm:prefix_cache_queries_total");
        HttpResponse<String> first = server.post("/v1/completions", body, "Authorization", auth());
        assertEquals(200, first.statusCode(), first.body());
        JsonNode a = ServerProcess.JSON.readTree(first.body());
        int promptTokens = a.path("usage").path("prompt_tokens").asInt();
        double q1 = server.metric("vllm:prefix_cache_queries_total");
        double h1 = server.metric("vllm:prefix_cache_hits_total");
        assertEquals(promptTokens, q1 - q0, "queries count the prompt's tokens");

        HttpResponse<String> second = server.post("/v1/completions", body, "Authorization", auth());
        JsonNode b = ServerProcess.JSON.readTree(second.body());
        assertEquals(a.path("choices").get(0).path("text").asText(), b.path("choices").get(0).path("text").asText());
        assertEquals(promptTokens, server.metric("vllm:prefix_cache_queries_total") - q1);
        assertEquals(promptTokens - 1, server.metric("vllm:prefix_cache_hits_total") - h1,
                "all but the last prompt token (run for the first logits) came from the cache");

        String metrics = server.get("/metrics").body();
        assertTrue(metrics.lines().anyMatch(l -> l.startsWith("vllm:cache_config_info{") && l.contains("block_size=\"256\"")
                && l.contains("num_gpu_blocks=\"8\"") && l.endsWith(" 1.0")), "cache_config_info: 512 x 4 / 256 blocks");
    }
}
