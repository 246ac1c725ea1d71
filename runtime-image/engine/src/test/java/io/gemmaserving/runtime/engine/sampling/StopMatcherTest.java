package io.gemmaserving.runtime.engine.sampling;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopMatcherTest {

    @Test
    void stopStringSplitAcrossPieces() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        assertEquals(new StopMatcher.Result("Hel", false, null), m.append("Hel"));
        assertEquals(new StopMatcher.Result("lo ", false, null), m.append("lo ST"), "ST is held back");
        assertEquals(new StopMatcher.Result("", false, null), m.append("O"), "STO is held back");
        assertEquals(new StopMatcher.Result("", true, "STOP"), m.append("P now"));
        assertTrue(m.stopped());
        assertEquals("", m.append("more").text());
        assertEquals("", m.flush());
    }

    @Test
    void heldBackTextIsReleasedWhenItStopsMatching() {
        StopMatcher m = new StopMatcher(List.of("</answer>"));
        assertEquals("a ", m.append("a </").text());
        assertEquals("</b", m.append("b").text());
        assertEquals("x", m.append("x<").text());
        assertEquals("<", m.flush(), "the tail is released at the end");
    }

    @Test
    void earliestStopWins() {
        StopMatcher m = new StopMatcher(List.of("world", "o w"));
        StopMatcher.Result r = m.append("hello world");
        assertEquals(new StopMatcher.Result("hell", true, "o w"), r);
    }

    @Test
    void emptyStopStringsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new StopMatcher(List.of("")));
    }

    /** For random texts cut into random pieces, the emitted text is exactly the text before the first stop string. */
    @Test
    void randomPiecesEmitExactlyThePrefix() {
        SplittableRandom random = new SplittableRandom(99);
        String alphabet = "ab \n<>/";
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
            StopMatcher m = new StopMatcher(stops);
            StringBuilder out = new StringBuilder();
            int pos = 0;
            boolean stopped = false;
            while (pos < text.length() && !stopped) {
                int len = 1 + random.nextInt(Math.min(5, text.length() - pos));
                StopMatcher.Result r = m.append(text.substring(pos, pos + len));
                out.append(r.text());
                stopped = r.stopped();
                pos += len;
                // nothing emitted so far may contain a stop string
                for (String s : stops) {
                    assertFalse(out.toString().contains(s));
                }
            }
            if (!stopped) {
                out.append(m.flush());
            }
            assertEquals(first >= 0, stopped, () -> stops + " in " + text);
            assertEquals(expected, out.toString(), () -> stops + " in " + text);
        }
    }

    static String randomString(SplittableRandom random, String alphabet, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return sb.toString();
    }
}
