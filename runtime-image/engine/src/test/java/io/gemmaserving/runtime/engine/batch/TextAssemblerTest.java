package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

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
}
