package io.gemmaserving.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import io.gemmaserving.runtime.engine.batch.GenerationParams;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated /v1/chat/completions or /v1/completions request: the prompt's tokens and how to generate. Every
 * refusal names the offending parameter, as OpenAI's API does.
 */
record CompletionRequest(boolean chat, int[] prompt, GenerationParams params, int n, boolean stream,
                         boolean includeUsage) {

    /** Server-side cap on max_tokens (a test knob: the fuzzing run sets it low); unlimited by default. */
    static final int MAX_TOKENS_CAP = Integer.getInteger("gemma.server.max-tokens-cap", Integer.MAX_VALUE);

    /**
     * @param maxChoices the largest {@code n} the scheduler can hold at once (its queue or its running slots)
     */
    static CompletionRequest parse(JsonNode body, boolean chat, String servedName, GemmaTokenizer tokenizer,
                                   int contextLength, int maxChoices) throws ApiException {
        if (body == null || !body.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        JsonNode model = body.get("model");
        if (model == null || !model.isTextual()) {
            throw ApiException.invalid("model", "missing_required_parameter", "'model' is required (a string)");
        }
        if (!model.asText().equals(servedName)) {
            throw ApiException.invalid("model", "model_not_found",
                    "The model '" + model.asText() + "' does not exist; this server serves '" + servedName + "'");
        }

        String text;
        if (chat) {
            try {
                text = tokenizer.applyChatTemplate(messages(body.get("messages")), true);
            } catch (IllegalArgumentException e) {
                // the template's own rules (roles alternating user/assistant after an optional system message)
                throw ApiException.invalid("messages", e.getMessage());
            }
        } else {
            text = prompt(body.get("prompt"));
            if (bool(body, "echo", false)) {
                throw ApiException.invalid("echo", "echo is not supported");
            }
            if (body.hasNonNull("suffix")) {
                throw ApiException.invalid("suffix", "suffix is not supported");
            }
        }
        // The chat template starts with <bos> already; a plain completion gets one added.
        int[] tokens = chat ? tokenizer.encode(text, false) : tokenizer.encode(text, true);
        if (tokens.length == 0) {
            throw ApiException.invalid(chat ? "messages" : "prompt", "the prompt is empty");
        }
        int room = contextLength - tokens.length;
        if (room < 1) {
            throw ApiException.invalid(chat ? "messages" : "prompt", "context_length_exceeded",
                    "This model's maximum context length is " + contextLength + " tokens; the prompt has "
                            + tokens.length + " tokens and leaves no room to generate");
        }

        String maxName = chat && body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        Long maxTokens = integer(body, maxName, 1, Integer.MAX_VALUE);
        if (maxTokens != null && maxTokens > room) {
            throw ApiException.invalid(maxName, "context_length_exceeded",
                    "max_tokens is " + maxTokens + " but the prompt has " + tokens.length + " tokens and this model's"
                            + " maximum context length is " + contextLength + ": at most " + room + " can be generated");
        }
        int max = (int) Math.min(maxTokens == null ? room : maxTokens, MAX_TOKENS_CAP);

        double temperature = number(body, "temperature", 0, 2, 1.0);
        double topP = number(body, "top_p", 0, 1, 1.0);
        if (topP == 0) {
            throw ApiException.invalid("top_p", "top_p must be greater than 0 and at most 1");
        }
        Long n = integer(body, "n", 1, 128);
        if (n != null && n > maxChoices) {
            throw ApiException.invalid("n", "n is " + n + " but this server runs at most " + maxChoices
                    + " sequences of one request at once (--max-concurrent-sequences / --max-waiting-requests)");
        }
        Long seed = integer(body, "seed", Long.MIN_VALUE, Long.MAX_VALUE);
        List<String> stop = stop(body.get("stop"));
        double presence = number(body, "presence_penalty", -2, 2, 0);
        double frequency = number(body, "frequency_penalty", -2, 2, 0);

        boolean logprobs;
        int top;
        if (chat) {
            logprobs = bool(body, "logprobs", false);
            Long t = integer(body, "top_logprobs", 0, 20);
            top = t == null ? 0 : t.intValue();
            if (top > 0 && !logprobs) {
                throw ApiException.invalid("top_logprobs", "top_logprobs requires logprobs = true");
            }
        } else {
            Long t = integer(body, "logprobs", 0, 5);
            logprobs = t != null;
            top = t == null ? 0 : t.intValue();
        }

        unsupported(body);

        boolean stream = bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) {
                throw ApiException.invalid("stream_options", "stream_options must be an object");
            }
            if (!stream) {
                throw ApiException.invalid("stream_options", "stream_options is only allowed when stream is true");
            }
            includeUsage = bool(so, "include_usage", false);
        }
        return new CompletionRequest(chat, tokens, new GenerationParams(max, temperature, topP, seed, stop, logprobs, top,
                presence, frequency), n == null ? 1 : n.intValue(), stream, includeUsage);
    }

    /**
     * Features this server does not implement are refused by name rather than ignored: a client that asked for
     * function calling, a JSON response format or logit biases must not get an answer that silently lacks them.
     */
    private static void unsupported(JsonNode body) throws ApiException {
        for (String name : List.of("tools", "functions")) {
            JsonNode v = body.get(name);
            if (v != null && !v.isNull() && !(v.isArray() && v.isEmpty())) {
                throw ApiException.invalid(name, name + " (function calling) is not supported by this server");
            }
        }
        JsonNode rf = body.get("response_format");
        if (rf != null && !rf.isNull() && !(rf.isObject() && "text".equals(rf.path("type").asText()))) {
            throw ApiException.invalid("response_format", "only response_format {\"type\": \"text\"} is supported");
        }
        JsonNode bias = body.get("logit_bias");
        if (bias != null && !bias.isNull() && !(bias.isObject() && bias.isEmpty())) {
            throw ApiException.invalid("logit_bias", "logit_bias is not supported by this server");
        }
        JsonNode bestOf = body.get("best_of");
        if (bestOf != null && !bestOf.isNull() && !(bestOf.isIntegralNumber() && bestOf.asLong() == 1)) {
            throw ApiException.invalid("best_of", "best_of is not supported (only 1); use n for several choices");
        }
    }

    private static List<ChatMessage> messages(JsonNode messages) throws ApiException {
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiException.invalid(where, where + " must be an object");
            }
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()
                    || !List.of("system", "developer", "user", "assistant", "model").contains(role.asText())) {
                throw ApiException.invalid(where + ".role", where + ".role must be one of system, developer, user, assistant");
            }
            out.add(new ChatMessage("developer".equals(role.asText()) ? "system" : role.asText(),
                    content(m.get("content"), where + ".content")));
        }
        return out;
    }

    /** A string, or an array of {"type":"text","text":...} parts joined. */
    private static String content(JsonNode c, String where) throws ApiException {
        if (c != null && c.isTextual()) {
            return c.asText();
        }
        if (c != null && c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : c) {
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.invalid(where, "only text content parts are supported");
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw ApiException.invalid(where, where + " must be a string or an array of text parts");
    }

    private static String prompt(JsonNode p) throws ApiException {
        if (p != null && p.isTextual()) {
            return p.asText();
        }
        if (p != null && p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            return p.get(0).asText();
        }
        throw ApiException.invalid("prompt", "'prompt' must be a string (or an array of one string)");
    }

    private static List<String> stop(JsonNode s) throws ApiException {
        if (s == null || s.isNull()) {
            return List.of();
        }
        if (s.isTextual()) {
            return List.of(s.asText());
        }
        if (s.isArray() && s.size() <= 4) {
            List<String> out = new ArrayList<>();
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw ApiException.invalid("stop", "stop must be a string or an array of up to 4 strings");
                }
                out.add(e.asText());
            }
            return out;
        }
        throw ApiException.invalid("stop", "stop must be a string or an array of up to 4 strings");
    }

    private static boolean bool(JsonNode body, String name, boolean dflt) throws ApiException {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(name, name + " must be a boolean");
        }
        return v.asBoolean();
    }

    private static double number(JsonNode body, String name, double min, double max, double dflt) throws ApiException {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber() || !(v.asDouble() >= min && v.asDouble() <= max)) {
            throw ApiException.invalid(name, name + " must be a number in [" + fmt(min) + ", " + fmt(max) + "], got " + v);
        }
        return v.asDouble();
    }

    private static Long integer(JsonNode body, String name, long min, long max) throws ApiException {
        JsonNode v = body.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
            String range = max == Long.MAX_VALUE ? "" : max == Integer.MAX_VALUE ? " >= " + min : " in [" + min + ", " + max + "]";
            throw ApiException.invalid(name, name + " must be an integer" + range + ", got " + v);
        }
        return v.asLong();
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
