package io.gemmaserving.runtime.bench;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import io.gemmaserving.runtime.engine.GemmaTokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The llama.cpp binding on the real Gemma 3 270M GGUF: tokenizer, template, logits and greedy decoding agree. */
@Tag("model")
class LlamaCppTest {

    static LlamaCpp llama;

    /** The shared reference instance, or a skip with the reason. */
    static LlamaCpp reference() {
        assumeTrue(LlamaCpp.available(), LlamaCpp.unavailableReason());
        String gguf = System.getenv("GEMMA_270M_GGUF");
        assumeTrue(gguf != null && Files.isRegularFile(Path.of(gguf)), "GEMMA_270M_GGUF not present: run hack/setup.sh");
        return LlamaCpp.open(Path.of(gguf), new LlamaCpp.Options(512, 128, 2));
    }

    @BeforeAll
    static void open() {
        llama = reference();
    }

    @AfterAll
    static void close() {
        if (llama != null) {
            llama.close();
        }
    }

    @Test
    void tokenizesWithBosAndSpecialTokens() {
        assertEquals(262144, llama.vocabSize());
        int[] plain = llama.tokenize("Hello world", true, false);
        assertEquals(2, plain[0], "Gemma's <bos> is id 2");
        int[] special = llama.tokenize("<start_of_turn>user\n", false, true);
        assertEquals(105, special[0], "<start_of_turn> is a single control token when parsing specials");
        int[] literal = llama.tokenize("<start_of_turn>", false, false);
        assertTrue(literal.length > 1, "without parseSpecial the control token text is ordinary text");
        // pieces concatenate back to the text
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i < plain.length; i++) {
            sb.append(new String(llama.tokenPiece(plain[i]), StandardCharsets.UTF_8));
        }
        assertEquals("Hello world", sb.toString());
        assertThrows(IllegalArgumentException.class, () -> llama.tokenPiece(-1));
    }

    @Test
    void chatTemplateIsGemmas() {
        // this GGUF carries no tokenizer.chat_template: the binding falls back to llama.cpp's built-in "gemma"
        String rendered = llama.applyChatTemplate(List.of(new GemmaTokenizer.ChatMessage("user", "Hi")), true);
        assertEquals("<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", rendered);
    }

    @Test
    void greedyFollowsArgmaxOfLogits() {
        int[] prompt = llama.tokenize("<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
                true, true);
        float[] logits = llama.logitsAfter(prompt);
        assertEquals(llama.vocabSize(), logits.length);
        int argmax = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[argmax]) {
                argmax = i;
            }
        }
        int[] gen = llama.greedy(prompt, 8);
        assertEquals(argmax, gen[0]);
        assertArrayEquals(gen, llama.greedy(prompt, 8), "greedy is deterministic after clearing the cache");
        // incremental decoding through the KV cache agrees with a fresh prefill of the longer prompt
        int[] longer = java.util.Arrays.copyOf(prompt, prompt.length + 3);
        System.arraycopy(gen, 0, longer, prompt.length, 3);
        float[] after = llama.logitsAfter(longer);
        int next = 0;
        for (int i = 1; i < after.length; i++) {
            if (after[i] > after[next]) {
                next = i;
            }
        }
        assertEquals(gen[3], next);
    }

    @Test
    void benchmarkTimesPrefillAndDecode() {
        int[] prompt = llama.tokenize("The quick brown fox jumps over the lazy dog. ".repeat(4), true, false);
        LlamaCpp.Timing t = llama.benchmark(prompt, 4);
        assertEquals(prompt.length, t.promptTokens());
        assertTrue(t.prefillTokensPerSecond() > 0 && t.decodeTokensPerSecond() > 0, t.toString());
    }
}
