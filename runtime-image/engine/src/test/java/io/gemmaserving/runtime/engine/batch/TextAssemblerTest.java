package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class TextAssemblerTest {

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void multiByteCharacterSplitAcrossTokensLeavesWhole() {
        TextAssembler t = new TextAssembler(List.of());
        byte[] e = b("é€");
        assertEquals("", t.append(new byte[] {e[0]}));
        assertEquals("é", t.append(new byte[] {e[1], e[2]}));
        assertEquals("€x", t.append(new byte[] {e[3], e[4], 'x'}));
    }

    @Test
    void stopStringAcrossTokensIsCutAndNotSent() {
        TextAssembler t = new TextAssembler(List.of("o w"));
        assertEquals("he", t.append(b("he")));
        assertEquals("ll", t.append(b("llo")));   // "o" could start "o w": held
        assertEquals("", t.append(b(" ")));        // "o " still could
        assertFalse(t.stopped());
        assertEquals("", t.append(b("world")));
        assertTrue(t.stopped());
    }

    @Test
    void heldTextIsReleasedWhenItIsNotAStop() {
        TextAssembler t = new TextAssembler(List.of("xyz", "END"));
        assertEquals("ab ", t.append(b("ab x")));
        assertEquals("xq", t.append(b("q")));
        assertEquals("", t.append(b("EN")));
        assertEquals("EN", t.flush());
    }

    @Test
    void earliestOfSeveralStopsWins() {
        TextAssembler t = new TextAssembler(List.of("cd", "b"));
        assertEquals("a", t.append(b("abcd")));
        assertTrue(t.stopped());
    }

    @Test
    void textAfterAStopStringIsNotSent() {
        TextAssembler t = new TextAssembler(List.of("STOP"));
        assertEquals("Hel", t.append(b("Hel")));
        assertEquals("lo ", t.append(b("lo ST")), "ST is held back");
        assertEquals("", t.append(b("O")), "STO is held back");
        assertEquals("", t.append(b("P now")));
        assertTrue(t.stopped());
        assertEquals("", t.flush());
    }

    /** For random texts cut into random byte pieces, the text sent is exactly the text before the first stop string. */
    @Test
    void randomPiecesSendExactlyThePrefix() {
        SplittableRandom random = new SplittableRandom(99);
        String alphabet = "ab \n<>/é";
        for (int round = 0; round < 2000; round++) {
            List<String> stops = List.of(randomString(random, alphabet, 1 + random.nextInt(4)),
                    randomString(random, alphabet, 1 + random.nextInt(6)));
            String text = randomString(random, alphabet, random.nextInt(60));
            int first = -1;
            for (String s : stops) {
                int i = text.indexOf(s);
                if (i >= 0 && (first < 0 || i < first)) {
                    first = i;
                }
            }
            String expected = first >= 0 ? text.substring(0, first) : text;
            byte[] bytes = b(text);
            TextAssembler t = new TextAssembler(stops);
            StringBuilder out = new StringBuilder();
            int pos = 0;
            while (pos < bytes.length && !t.stopped()) {
                int len = 1 + random.nextInt(Math.min(5, bytes.length - pos));
                out.append(t.append(Arrays.copyOfRange(bytes, pos, pos + len)));
                pos += len;
                for (String s : stops) {
                    assertFalse(out.toString().contains(s), "nothing sent may contain a stop string");
                }
            }
            out.append(t.flush());
            assertEquals(first >= 0, t.stopped(), () -> stops + " in " + text);
            assertEquals(expected, out.toString(), () -> stops + " in " + text);
        }
    }

    private static String randomString(SplittableRandom random, String alphabet, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return sb.toString();
    }
}
