package io.gemmaserving.runtime.engine.tokenizer;

import static io.gemmaserving.runtime.engine.tokenizer.SentencePieceTokenizerTest.quote;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gemmaserving.runtime.bench.LlamaCpp;
import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The GGUF-built tokenizer against llama.cpp's (the reference) on the real Gemma 3 270M vocabulary: the same ids
 * for the whole corpus, the same bytes for every token, the same chat template. Skipped without llama.cpp.
 */
@Tag("model")
class TokenizerVsLlamaCppTest {

    static SentencePieceTokenizer tok;
    static LlamaCpp llama;

    @BeforeAll
    static void load() {
        tok = TokenizerCorpus.fromGguf();
        assumeTrue(LlamaCpp.available(), LlamaCpp.unavailableReason());
        llama = LlamaCpp.open(TokenizerCorpus.ggufPath(), new LlamaCpp.Options(256, 64, 1));
    }

    @AfterAll
    static void close() {
        if (llama != null) {
            llama.close();
        }
    }

    @Test
    void encodesTheCorpusExactlyAsLlamaCpp() {
        List<String> cases = TokenizerCorpus.cases();
        List<String> mismatches = new ArrayList<>();
        int compared = 0;
        for (String text : cases) {
            for (boolean parseSpecial : new boolean[] {true, false}) {
                boolean addBos = text.length() % 2 == 0;
                int[] expected = llama.tokenize(text, addBos, parseSpecial);
                int[] actual = tok.encode(text, addBos, parseSpecial);
                compared++;
                if (!Arrays.equals(expected, actual)) {
                    mismatches.add("parseSpecial=" + parseSpecial + " " + quote(text) + "\n  llama.cpp " + Arrays.toString(expected)
                            + "\n  ours      " + Arrays.toString(actual));
                }
            }
        }
        assertTrue(compared >= 800, "corpus too small: " + compared);
        assertTrue(mismatches.isEmpty(), mismatches.size() + " of " + compared + " differ, first:\n"
                + String.join("\n", mismatches.subList(0, Math.min(5, mismatches.size()))));
    }

    @Test
    void tokenBytesMatchLlamaCppPiecesForEveryToken() {
        List<Integer> differ = new ArrayList<>();
        for (int id = 0; id < tok.vocabSize(); id++) {
            if (!Arrays.equals(llama.tokenPiece(id), tok.tokenBytes(id))) {
                differ.add(id);
            }
        }
        assertTrue(differ.isEmpty(), differ.size() + " tokens render differently, e.g. "
                + differ.subList(0, Math.min(10, differ.size())));
    }

    @Test
    void endOfTurnIsTheSameControlToken() {
        assertEquals(llama.tokenize("<end_of_turn>", false, true)[0], tok.endOfTurnId());
    }

    @Test
    void tenKilobytesEncodeAsLlamaCpp() {
        String text = TokenizerCorpus.tenKilobytes();
        assertArrayEquals(llama.tokenize(text, true, true), tok.encode(text, true));
    }

    @Test
    void chatTemplateMatchesLlamaCppsGemmaTemplate() {
        List<List<ChatMessage>> chats = List.of(
                List.of(new ChatMessage("user", "Hi")),
                List.of(new ChatMessage("system", "You are terse."), new ChatMessage("user", "Hello?")),
                List.of(new ChatMessage("user", "  padded question \n"), new ChatMessage("assistant", "An answer."),
                        new ChatMessage("user", "Another one\nwith lines")),
                List.of(new ChatMessage("system", "Be kind."), new ChatMessage("user", "q1"), new ChatMessage("model", "a1"),
                        new ChatMessage("user", "日本語 😀")));
        for (List<ChatMessage> chat : chats) {
            for (boolean gen : new boolean[] {true, false}) {
                String ours = tok.applyChatTemplate(chat, gen);
                assertTrue(ours.startsWith("<bos>"));
                // llama.cpp's built-in template leaves <bos> to the tokenizer
                assertEquals(llama.applyChatTemplate(chat, gen), ours.substring("<bos>".length()), chat.toString());
                // and the rendered prompt tokenizes to the same ids either way
                assertArrayEquals(llama.tokenize(ours, false, true), tok.encode(ours, false));
            }
        }
    }
}
