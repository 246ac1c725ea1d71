package io.gemmaserving.runtime.engine.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gemmaserving.runtime.engine.gguf.GgufFile;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The texts every tokenizer test runs over, and the shared GGUF-built tokenizer. */
final class TokenizerCorpus {

    private static SentencePieceTokenizer gguf;

    private TokenizerCorpus() {
    }

    /** The committed cases (corpus.json: code, scripts, emoji, whitespace, special tokens) plus seeded random ones. */
    static List<String> cases() {
        List<String> all = new ArrayList<>(committed());
        SplittableRandom random = new SplittableRandom(20261123);
        for (int i = 0; i < 300; i++) {
            all.add(randomText(random, 1 + random.nextInt(i < 250 ? 60 : 1500)));
        }
        return all;
    }

    static List<String> committed() {
        try (InputStream in = TokenizerCorpus.class.getResourceAsStream("/tokenizer/corpus.json")) {
            return new ObjectMapper().readValue(in, new TypeReference<List<String>>() {
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Pieces that stress the tokenizer: words, whitespace runs, scripts, emoji, special-token text. */
    private static final String[] PIECES = {
        "the", " the", "ing", " and", "Hello", "world", "tokenizer", "x", "Q", "7", "42", "3.14", ".", ",", "!", "?", "'",
        "\"", "(", ")", "{", "}", "[", "]", "<", ">", "/", "\\", "_", "-", "=", "+", "*", "#", "@", "$", "%", "&", "|",
        " ", " ", " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000",
        "é", "ü", "ñ", "ß", "ø", "å", "ç", "Ω", "λ", "ж", "ы", "日本", "語", "中文", "한국", "ไทย", "عربي", "עברית", "हिन्दी",
        "😀", "👍🏽", "👨‍👩‍👧", "🇯🇵", "❤️", "🦀", "\u200d", "\u0301", "𝔘",
        "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<unused7>", "<table>", "</td>", "<start_", "of_turn>",
        "▁", "<0x0A>", "def ", "return ", "{\n", "}\n", "    ", "public ", "class ", "fn ", "=>", "::", "->", "!=", "===",
    };

    static String randomText(SplittableRandom random, int pieces) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < pieces; i++) {
            if (random.nextInt(8) == 0) {
                // any code point from the BMP (no surrogates) or a random emoji-plane one
                int cp = random.nextInt(6) == 0 ? 0x1F300 + random.nextInt(0x600) : random.nextInt(0xD800);
                sb.appendCodePoint(cp);
            } else {
                sb.append(PIECES[random.nextInt(PIECES.length)]);
            }
        }
        return sb.toString();
    }

    /** About 10 KB of mixed prose, code and Unicode, for timing. */
    static String tenKilobytes() {
        StringBuilder sb = new StringBuilder();
        List<String> c = committed();
        int i = 0;
        while (sb.length() < 10_000) {
            sb.append(c.get(i++ % c.size())).append(' ');
        }
        return sb.toString();
    }

    static Path ggufPath() {
        String p = System.getenv("GEMMA_270M_GGUF");
        assumeTrue(p != null && Files.isRegularFile(Path.of(p)), "GEMMA_270M_GGUF not present: run hack/setup.sh");
        return Path.of(p);
    }

    /** The tokenizer built from the real Gemma 3 270M GGUF (skips when the file is absent). */
    static synchronized SentencePieceTokenizer fromGguf() {
        if (gguf == null) {
            try (GgufFile f = GgufFile.open(ggufPath())) {
                gguf = SentencePieceTokenizer.fromGguf(f);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return gguf;
    }
}
