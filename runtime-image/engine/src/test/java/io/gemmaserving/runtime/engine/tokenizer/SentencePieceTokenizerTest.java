package io.gemmaserving.runtime.engine.tokenizer;

import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GGUF-built tokenizer on the real Gemma 3 270M vocabulary: round trips, vocabulary facts, the chat template, speed.
 * Token for token against llama.cpp's tokenizer: {@code TokenizerVsLlamaCppTest} in the bench module.
 */
@Tag("model")
class SentencePieceTokenizerTest {

    static SentencePieceTokenizer tok;

    @BeforeAll
    static void load() {
        tok = TokenizerCorpus.fromGguf();
    }

    @Test
    void decodeInvertsEncode() {
        for (String text : TokenizerCorpus.cases()) {
            if (text.indexOf('\u2581') >= 0) {
                // a literal ▁ in the input decodes as a space: SentencePiece cannot tell them apart (llama.cpp neither)
                assertEquals(text.replace('\u2581', ' '), tok.decode(tok.encode(text, false, true)));
                continue;
            }
            assertEquals(text, tok.decode(tok.encode(text, false, true)), () -> quote(text));
            assertEquals(text, tok.decode(tok.encode(text, false, false)), () -> quote(text));
        }
        int[] withBos = tok.encode("<start_of_turn>user\nHi<end_of_turn>", true);
        assertEquals("user\nHi", tok.decode(withBos, true), "skipSpecial drops control tokens");
    }

    @Test
    void vocabularyFacts() {
        assertEquals(262144, tok.vocabSize());
        assertEquals(2, tok.bosId());
        assertEquals(1, tok.eosId());
        assertEquals(106, tok.endOfTurnId());
        assertTrue(tok.isEndOfGeneration(1) && tok.isEndOfGeneration(106) && !tok.isEndOfGeneration(107));
        assertArrayEquals(new int[] {tok.endOfTurnId()}, tok.encode("<end_of_turn>", false, true));
        assertThrows(IllegalArgumentException.class, () -> tok.tokenBytes(tok.vocabSize()));
    }

    @Test
    void tenKilobytesEncodeFast() {
        String text = TokenizerCorpus.tenKilobytes();
        int[] ids = tok.encode(text, true);
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 7; i++) {
            long t0 = System.nanoTime();
            tok.encode(text, true);
            best = Math.min(best, System.nanoTime() - t0);
        }
        System.out.printf("tokenizer: %d chars -> %d tokens in %.2f ms (best of 7)%n", text.length(), ids.length, best / 1e6);
        // about 18 ms on an idle core; the bound is loose so a busy machine passes, and still catches a quadratic step
        assertTrue(best < 150_000_000L, "10 KB took " + best / 1e6 + " ms");
    }

    @Test
    void chatTemplateRendersAGemmaTurn() {
        String one = tok.applyChatTemplate(List.of(new ChatMessage("user", "Hi")), true);
        assertEquals("<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", one);
    }

    @Test
    void chatTemplateRejectsBadConversations() {
        var e = assertThrows(IllegalArgumentException.class, () -> tok.applyChatTemplate(
                List.of(new ChatMessage("user", "a"), new ChatMessage("user", "b")), true));
        assertTrue(e.getMessage().contains("alternate"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tok.applyChatTemplate(List.of(new ChatMessage("tool", "x")), true));
        assertThrows(IllegalArgumentException.class, () -> tok.applyChatTemplate(List.of(), true));
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp < 0x20 || cp == 0x7f) {
                sb.append(String.format("\\x%02x", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.append('"').toString();
    }
}
