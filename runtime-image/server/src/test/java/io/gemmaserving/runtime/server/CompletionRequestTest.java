package io.gemmaserving.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gemmaserving.runtime.engine.GemmaTokenizer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Request parsing: n and the penalties reach the generation parameters; bad values are a 400 naming the field. */
@Tag("unit")
class CompletionRequestTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** TEST DOUBLE: one token per byte (id = byte + 10), bos 2; enough for parsing, which only counts tokens. */
    private static final GemmaTokenizer BYTES = new GemmaTokenizer() {
        @Override
        public int[] encode(String text, boolean addBos) {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            int[] out = new int[b.length + (addBos ? 1 : 0)];
            int k = 0;
            if (addBos) {
                out[k++] = 2;
            }
            for (byte x : b) {
                out[k++] = (x & 0xFF) + 10;
            }
            return out;
        }

        @Override
        public byte[] tokenBytes(int token) {
            return new byte[] {(byte) (token - 10)};
        }

        @Override
        public String decode(int[] tokens) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int vocabSize() {
            return 266;
        }

        @Override
        public int bosId() {
            return 2;
        }

        @Override
        public int eosId() {
            return 1;
        }

        @Override
        public int endOfTurnId() {
            return 3;
        }

        @Override
        public boolean isEndOfGeneration(int token) {
            return token == 1 || token == 3;
        }

        @Override
        public String applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt) {
            StringBuilder sb = new StringBuilder();
            messages.forEach(m -> sb.append(m.role()).append(':').append(m.content()).append('\n'));
            return sb.toString();
        }
    };

    private static CompletionRequest parse(String json, int maxChoices) throws Exception {
        JsonNode body = JSON.readTree(json);
        return CompletionRequest.parse(body, false, "m", BYTES, 256, maxChoices);
    }

    @Test
    void nAndPenaltiesAreParsed() throws Exception {
        CompletionRequest r = parse("{\"model\":\"m\",\"prompt\":\"hello\",\"n\":3,\"seed\":9,"
                + "\"presence_penalty\":0.5,\"frequency_penalty\":-1.25}", 8);
        assertEquals(3, r.n());
        assertEquals(0.5, r.params().presencePenalty());
        assertEquals(-1.25, r.params().frequencyPenalty());
        assertEquals(9L, r.params().seed());
        assertEquals(6, r.prompt().length, "bos + 5 bytes");

        CompletionRequest plain = parse("{\"model\":\"m\",\"prompt\":\"hello\",\"tools\":[],"
                + "\"response_format\":{\"type\":\"text\"},\"logit_bias\":{},\"best_of\":1}", 8);
        assertEquals(1, plain.n());
        assertEquals(0.0, plain.params().presencePenalty());
        assertEquals(0.0, plain.params().frequencyPenalty());
    }

    @Test
    void badNAndPenaltiesAre400sNamingTheField() {
        Object[][] cases = {
            {"\"n\":0", "n"},
            {"\"n\":1.5", "n"},
            {"\"n\":9", "n"}, // beyond what this scheduler holds at once (8 below)
            {"\"n\":129", "n"},
            {"\"presence_penalty\":2.01", "presence_penalty"},
            {"\"frequency_penalty\":-3", "frequency_penalty"},
            {"\"frequency_penalty\":\"high\"", "frequency_penalty"},
            {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "tools"},
            {"\"response_format\":{\"type\":\"json_object\"}", "response_format"},
            {"\"logit_bias\":{\"50\":-100}", "logit_bias"},
            {"\"best_of\":3", "best_of"},
        };
        for (Object[] c : cases) {
            ApiException e = assertThrows(ApiException.class,
                    () -> parse("{\"model\":\"m\",\"prompt\":\"hello\"," + c[0] + "}", 8), (String) c[0]);
            assertEquals(400, e.status, (String) c[0]);
            assertEquals(c[1], e.param, (String) c[0]);
        }
    }
}
