package io.gemmaserving.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import io.gemmaserving.runtime.engine.batch.FinishReason;
import io.gemmaserving.runtime.engine.batch.GenerationListener;
import io.gemmaserving.runtime.engine.batch.QueueFullException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.core.buffer.Buffer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.jboss.logging.Logger;

/**
 * The OpenAI-compatible API on Vert.x routes: /v1/chat/completions and /v1/completions (JSON or an SSE stream),
 * /v1/models, and the OpenAPI document at /openapi.yaml. Parsing and tokenizing run on a worker thread; tokens
 * arrive on the scheduler thread and are written straight to the response (Vert.x hands writes to the event loop).
 */
@ApplicationScoped
public class OpenAiRoutes {

    private static final Logger LOG = Logger.getLogger(OpenAiRoutes.class);
    private static final int MAX_BODY = 16 << 20;
    private static final String BODY = "gemma.body";
    private static final long CREATED = Instant.now().getEpochSecond();

    @Inject
    ModelHolder holder;
    @Inject
    ServerMetrics metrics;
    @Inject
    ObjectMapper mapper;

    void routes(@Observes Router router) {
        router.route("/v1/*").order(-100).handler(this::authorize);
        router.get("/v1/models").handler(this::models);
        router.post("/v1/chat/completions").handler(this::readBody).blockingHandler(ctx -> complete(ctx, true), false);
        router.post("/v1/completions").handler(this::readBody).blockingHandler(ctx -> complete(ctx, false), false);
        router.route("/v1/*").failureHandler(ctx -> {
            int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
            if (ctx.failure() != null) {
                LOG.error("request failed", ctx.failure());
            }
            sendError(ctx.response(), new ApiException(status, status == 500 ? "internal error" : "request failed",
                    status >= 500 ? "server_error" : "invalid_request_error", null, null));
        });
        router.get("/openapi.yaml").handler(this::openapi);
    }

    /**
     * Collects the body whatever its Content-Type says (clients such as curl send JSON as a form by default; Vert.x's
     * BodyHandler would try to decode that as form fields).
     */
    private void readBody(RoutingContext ctx) {
        Buffer body = Buffer.buffer();
        boolean[] tooLarge = {false};
        ctx.request().handler(chunk -> {
            if (body.length() + chunk.length() > MAX_BODY) {
                tooLarge[0] = true;
            } else {
                body.appendBuffer(chunk);
            }
        });
        ctx.request().endHandler(v -> {
            if (tooLarge[0]) {
                sendError(ctx.response(), new ApiException(413, "the request body is larger than " + MAX_BODY + " bytes",
                        "invalid_request_error", null, "request_too_large"));
            } else {
                ctx.put(BODY, body);
                ctx.next();
            }
        });
        ctx.request().resume();
    }

    /** With --api-key-file, every /v1 call needs "Authorization: Bearer <key>", compared in constant time. */
    private void authorize(RoutingContext ctx) {
        byte[] key = holder.apiKey();
        if (key == null) {
            ctx.next();
            return;
        }
        String auth = ctx.request().getHeader("Authorization");
        byte[] given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)
                ? auth.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (MessageDigest.isEqual(sha256(key), sha256(given))) {
            ctx.next();
        } else {
            sendError(ctx.response(), new ApiException(401, "Incorrect or missing API key: send 'Authorization: Bearer <key>'",
                    "invalid_request_error", null, "invalid_api_key"));
        }
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b); // equal lengths: isEqual leaks nothing
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void models(RoutingContext ctx) {
        ObjectNode list = mapper.createObjectNode().put("object", "list");
        ArrayNode data = list.putArray("data");
        if (holder.servedName() != null) {
            ObjectNode m = data.addObject().put("id", holder.servedName()).put("object", "model").put("created", CREATED)
                    .put("owned_by", "gemma-serving");
            if (holder.scheduler() != null) {
                m.put("max_model_len", holder.scheduler().config().maxContextLength());
            }
        }
        ctx.response().putHeader("Content-Type", "application/json").end(list.toString());
    }

    private void openapi(RoutingContext ctx) {
        try (InputStream in = OpenAiRoutes.class.getResourceAsStream("/openapi.yaml")) {
            // the one model this server serves is the only valid "model" (so a fuzzer's requests get past it)
            String doc = new String(in.readAllBytes(), StandardCharsets.UTF_8)
                    .replace("${served-model}", String.valueOf(holder.servedName()));
            ctx.response().putHeader("Content-Type", "application/yaml").end(doc);
        } catch (IOException | NullPointerException e) {
            ctx.response().setStatusCode(404).end();
        }
    }

    private void complete(RoutingContext ctx, boolean chat) {
        HttpServerResponse resp = ctx.response();
        try {
            BatchScheduler scheduler = holder.scheduler();
            if (holder.draining()) {
                throw new ApiException(503, "The server is shutting down", "server_error", null, "shutting_down");
            }
            if (!holder.ready() || scheduler == null) {
                throw new ApiException(503, "The model is still loading", "server_error", null, "model_not_ready");
            }
            JsonNode body;
            try {
                Buffer raw = ctx.get(BODY);
                body = raw == null || raw.length() == 0 ? null : mapper.readTree(raw.getBytes());
            } catch (IOException e) {
                throw ApiException.invalid(null, "invalid_json",
                        "We could not parse the JSON body of your request: " + firstLine(e.getMessage()));
            }
            CompletionRequest req = CompletionRequest.parse(body, chat, holder.servedName(), holder.model().tokenizer(),
                    scheduler.config().maxContextLength(), scheduler.maxChoices());
            Emitter emitter = new Emitter(resp, req);
            BatchScheduler.Handle handle;
            try {
                handle = scheduler.submit(req.prompt(), req.params(), req.n(), emitter::choice);
                emitter.handle = handle;
            } catch (QueueFullException e) {
                if (!e.shuttingDown()) {
                    metrics.rejected();
                }
                throw e.shuttingDown()
                        ? new ApiException(503, e.getMessage(), "server_error", null, "shutting_down")
                        : new ApiException(429, "The server is busy: " + e.getMessage(), "rate_limit_exceeded", null,
                                "queue_full");
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid(chat ? "messages" : "prompt", e.getMessage());
            }
            // A client that goes away frees its sequence at the next step.
            resp.closeHandler(v -> handle.cancel());
            if (resp.closed()) {
                handle.cancel();
            }
        } catch (ApiException e) {
            sendError(resp, e);
        } catch (RuntimeException e) {
            LOG.error("request failed", e);
            sendError(resp, new ApiException(500, "internal error: " + firstLine(String.valueOf(e.getMessage())),
                    "server_error", null, null));
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    void sendError(HttpServerResponse resp, ApiException e) {
        ObjectNode err = mapper.createObjectNode();
        ObjectNode inner = err.putObject("error").put("message", e.getMessage()).put("type", e.type);
        inner.put("param", e.param);
        inner.put("code", e.code);
        if (resp.closed() || resp.ended() || resp.headWritten()) {
            return;
        }
        resp.setStatusCode(e.status).putHeader("Content-Type", "application/json");
        if (e.status == 429) {
            resp.putHeader("Retry-After", "1");
        }
        resp.end(err.toString());
    }

    /**
     * Writes one request's tokens: SSE chunks as they come, or one JSON document at the end. Scheduler thread. A
     * request with n > 1 is n sequences in the scheduler, one {@link Choice} each; the response ends when all have.
     */
    private final class Emitter {
        private final HttpServerResponse resp;
        private final CompletionRequest req;
        private final String id;
        private final long created = Instant.now().getEpochSecond();
        private final long start = System.nanoTime();
        private final Choice[] choices;
        private int remaining;
        private boolean headersSent;
        private boolean firstToken;
        private boolean cancelled;
        private boolean failed;
        private int promptTokens;
        private int completionTokens;
        /** Cancels every choice (set right after submit; null until then). */
        volatile BatchScheduler.Handle handle;

        Emitter(HttpServerResponse resp, CompletionRequest req) {
            this.resp = resp;
            this.req = req;
            byte[] r = new byte[12];
            ThreadLocalRandom.current().nextBytes(r);
            this.id = (req.chat() ? "chatcmpl-" : "cmpl-") + HexFormat.of().formatHex(r);
            this.choices = new Choice[req.n()];
            for (int i = 0; i < choices.length; i++) {
                choices[i] = new Choice(i);
            }
            this.remaining = choices.length;
        }

        GenerationListener choice(int index) {
            return choices[index];
        }

        /** The completions API's logprobs object, its four parallel arrays empty. */
        private ObjectNode newLegacyLogprobs() {
            ObjectNode lp = mapper.createObjectNode();
            lp.putArray("tokens");
            lp.putArray("token_logprobs");
            lp.putArray("top_logprobs");
            lp.putArray("text_offset");
            return lp;
        }

        /** One choice: its text, logprobs and end. */
        private final class Choice implements GenerationListener {
            private final int index;
            private final StringBuilder text = new StringBuilder();
            /** Non-streaming logprobs, accumulated in the API's shape. */
            private final ArrayNode logprobContent = mapper.createArrayNode();
            private final ObjectNode legacyLogprobs = newLegacyLogprobs();
            private int textOffset;
            private long last;
            private FinishReason finish;

            Choice(int index) {
                this.index = index;
            }

            @Override
            public void onToken(GeneratedToken token) {
                long now = System.nanoTime();
                if (token.id() >= 0) {
                    if (!firstToken) {
                        firstToken = true;
                        metrics.firstToken(now - start);
                    } else if (last != 0) {
                        metrics.interToken(now - last);
                    }
                    last = now;
                }
                if (failed) {
                    return;
                }
                boolean withLogprobs = req.params().logprobs() && token.id() >= 0;
                if (req.stream()) {
                    if (token.text().isEmpty() && !withLogprobs) {
                        return;
                    }
                    ObjectNode chunk = chunk(index);
                    ObjectNode choice = (ObjectNode) chunk.get("choices").get(0);
                    if (req.chat()) {
                        choice.putObject("delta").put("content", token.text());
                        choice.set("logprobs", withLogprobs
                                ? mapper.createObjectNode().set("content", mapper.createArrayNode().add(chatLogprob(token)))
                                : null);
                    } else {
                        choice.put("text", token.text());
                        if (withLogprobs) {
                            ObjectNode lp = newLegacyLogprobs();
                            addLegacy(lp, token);
                            choice.set("logprobs", lp);
                        } else {
                            choice.putNull("logprobs");
                        }
                    }
                    choice.putNull("finish_reason");
                    send(chunk);
                } else {
                    text.append(token.text());
                    if (withLogprobs) {
                        if (req.chat()) {
                            logprobContent.add(chatLogprob(token));
                        } else {
                            addLegacy(legacyLogprobs, token);
                        }
                    }
                }
            }

            private void addLegacy(ObjectNode lp, GeneratedToken token) {
                ((ArrayNode) lp.get("tokens")).add(str(token.bytes()));
                ((ArrayNode) lp.get("token_logprobs")).add(token.logprob());
                ObjectNode top = mapper.createObjectNode();
                for (TopLogprob t : token.top()) {
                    top.put(str(t.bytes()), t.logprob());
                }
                ((ArrayNode) lp.get("top_logprobs")).add(top);
                ((ArrayNode) lp.get("text_offset")).add(textOffset);
                textOffset += token.text().length();
            }

            @Override
            public void onComplete(FinishReason reason, int prompt, int completion) {
                finish = reason;
                // usage: the prompt once per request, the completion tokens of every choice
                metrics.finished(remaining == choices.length ? prompt : 0, completion);
                promptTokens = prompt;
                completionTokens += completion;
                if (reason == FinishReason.CANCELLED) {
                    cancelled = true;
                } else if (req.stream() && !failed && !cancelled) {
                    ObjectNode last = chunk(index);
                    ObjectNode choice = (ObjectNode) last.get("choices").get(0);
                    if (req.chat()) {
                        choice.putObject("delta");
                    } else {
                        choice.put("text", "");
                    }
                    choice.putNull("logprobs");
                    choice.put("finish_reason", reason.apiName());
                    send(last);
                }
                if (--remaining == 0) {
                    finished();
                }
            }

            @Override
            public void onError(String message) {
                if (failed) {
                    return;
                }
                failed = true;
                BatchScheduler.Handle h = handle;
                if (h != null) {
                    h.cancel(); // the other choices of this request
                }
                if (resp.closed()) {
                    return;
                }
                if (req.stream() && headersSent) {
                    ObjectNode err = mapper.createObjectNode();
                    err.putObject("error").put("message", message).put("type", "server_error");
                    send(err);
                    end();
                } else {
                    sendError(resp, new ApiException(500, message, "server_error", null, null));
                }
            }
        }

        /** Every choice has ended. */
        private void finished() {
            if (resp.closed() || failed) {
                return;
            }
            if (cancelled) {
                if (req.stream() && headersSent) {
                    end();
                } else {
                    sendError(resp, new ApiException(503, "The request was cancelled: the server is shutting down",
                            "server_error", null, "cancelled"));
                }
                return;
            }
            ObjectNode usage = mapper.createObjectNode().put("prompt_tokens", promptTokens)
                    .put("completion_tokens", completionTokens).put("total_tokens", promptTokens + completionTokens);
            if (req.stream()) {
                if (req.includeUsage()) {
                    ObjectNode u = chunk(-1);
                    u.set("usage", usage);
                    send(u);
                }
                end();
                return;
            }
            ObjectNode doc = mapper.createObjectNode().put("id", id)
                    .put("object", req.chat() ? "chat.completion" : "text_completion").put("created", created)
                    .put("model", holder.servedName());
            ArrayNode list = doc.putArray("choices");
            for (Choice c : choices) {
                ObjectNode choice = list.addObject().put("index", c.index);
                if (req.chat()) {
                    choice.putObject("message").put("role", "assistant").put("content", c.text.toString());
                    choice.set("logprobs", req.params().logprobs()
                            ? mapper.createObjectNode().set("content", c.logprobContent) : null);
                } else {
                    choice.put("text", c.text.toString());
                    choice.set("logprobs", req.params().logprobs() ? c.legacyLogprobs : null);
                }
                choice.put("finish_reason", c.finish.apiName());
            }
            doc.set("usage", usage);
            resp.putHeader("Content-Type", "application/json").end(doc.toString());
        }

        /** A chunk for choice {@code index}, or with no choice at all when index < 0 (the usage chunk). */
        private ObjectNode chunk(int index) {
            ObjectNode c = mapper.createObjectNode().put("id", id)
                    .put("object", req.chat() ? "chat.completion.chunk" : "text_completion").put("created", created)
                    .put("model", holder.servedName());
            ArrayNode list = c.putArray("choices");
            if (index >= 0) {
                list.addObject().put("index", index);
            }
            if (req.includeUsage()) {
                c.putNull("usage");
            }
            return c;
        }

        private void send(ObjectNode event) {
            if (resp.closed()) {
                return;
            }
            if (!headersSent) {
                headersSent = true;
                resp.setChunked(true).putHeader("Content-Type", "text/event-stream")
                        .putHeader("Cache-Control", "no-cache").putHeader("X-Accel-Buffering", "no");
                if (req.chat()) {
                    // The first chunk of each choice carries the role, as OpenAI's does.
                    for (Choice c : choices) {
                        ObjectNode role = chunk(c.index);
                        ObjectNode choice = (ObjectNode) role.get("choices").get(0);
                        choice.putObject("delta").put("role", "assistant").put("content", "");
                        choice.putNull("logprobs");
                        choice.putNull("finish_reason");
                        write(role);
                    }
                }
            }
            write(event);
        }

        private void write(ObjectNode event) {
            try {
                resp.write("data: " + event + "\n\n");
            } catch (IllegalStateException e) {
                // closed meanwhile: the close handler cancels the sequences
            }
        }

        private void end() {
            try {
                if (!headersSent) {
                    headersSent = true;
                    resp.setChunked(true).putHeader("Content-Type", "text/event-stream");
                }
                resp.end("data: [DONE]\n\n");
            } catch (IllegalStateException e) {
                // already closed
            }
        }

        private ObjectNode chatLogprob(GenerationListener.GeneratedToken token) {
            ObjectNode o = mapper.createObjectNode().put("token", str(token.bytes())).put("logprob", token.logprob());
            o.set("bytes", bytes(token.bytes()));
            ArrayNode top = o.putArray("top_logprobs");
            for (GenerationListener.TopLogprob t : token.top()) {
                ObjectNode e = top.addObject().put("token", str(t.bytes())).put("logprob", t.logprob());
                e.set("bytes", bytes(t.bytes()));
            }
            return o;
        }

        private String str(byte[] b) {
            return new String(b, StandardCharsets.UTF_8);
        }

        private ArrayNode bytes(byte[] b) {
            ArrayNode a = mapper.createArrayNode();
            for (byte x : b) {
                a.add(x & 0xFF);
            }
            return a;
        }
    }
}
