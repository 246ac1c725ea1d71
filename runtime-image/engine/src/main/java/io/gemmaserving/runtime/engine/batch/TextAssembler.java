package io.gemmaserving.runtime.engine.batch;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Turns one sequence's token bytes into text that is safe to send: only complete UTF-8 characters leave (a
 * character may span byte-fallback tokens), and text that could be the start of a stop string is held back until
 * it is known not to be one. A stop string found across any number of tokens ends the text before it.
 */
final class TextAssembler {

    private final List<String> stop;
    private final ByteArrayOutputStream pendingBytes = new ByteArrayOutputStream();
    /** Decoded text not released yet: a possible prefix of a stop string. */
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    TextAssembler(List<String> stop) {
        this.stop = stop;
    }

    /** Adds a token's bytes; returns the text that may be released now. After a stop match, {@link #stopped()}. */
    String append(byte[] bytes) {
        pendingBytes.writeBytes(bytes);
        byte[] all = pendingBytes.toByteArray();
        int complete = completeUtf8Prefix(all);
        pendingBytes.reset();
        pendingBytes.write(all, complete, all.length - complete);
        held.append(new String(all, 0, complete, StandardCharsets.UTF_8));
        if (stop.isEmpty()) {
            return drain(held.length());
        }
        int first = -1;
        for (String s : stop) {
            int at = held.indexOf(s);
            if (at >= 0 && (first < 0 || at < first)) {
                first = at;
            }
        }
        if (first >= 0) {
            stopped = true;
            String out = held.substring(0, first);
            held.setLength(0);
            return out;
        }
        return drain(held.length() - longestStopPrefixSuffix());
    }

    /** The rest at the end of the sequence (bytes of an incomplete character become U+FFFD). */
    String flush() {
        if (stopped) {
            return "";
        }
        byte[] rest = pendingBytes.toByteArray();
        pendingBytes.reset();
        held.append(new String(rest, StandardCharsets.UTF_8));
        return drain(held.length());
    }

    boolean stopped() {
        return stopped;
    }

    private String drain(int upTo) {
        String out = held.substring(0, upTo);
        held.delete(0, upTo);
        return out;
    }

    /** Length of the longest suffix of {@code held} that is a proper prefix of some stop string. */
    private int longestStopPrefixSuffix() {
        int best = 0;
        for (String s : stop) {
            for (int len = Math.min(s.length() - 1, held.length()); len > best; len--) {
                if (held.substring(held.length() - len).equals(s.substring(0, len))) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }

    /** Bytes from 0 that form whole UTF-8 characters: an incomplete lead sequence at the end stays pending. */
    static int completeUtf8Prefix(byte[] b) {
        int n = b.length;
        // look back at most 3 bytes for the start of the last character
        for (int back = 1; back <= Math.min(4, n); back++) {
            int c = b[n - back] & 0xFF;
            if ((c & 0xC0) == 0x80) {
                continue; // continuation byte
            }
            int need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
            return back >= need ? n : n - back;
        }
        return n;
    }
}
