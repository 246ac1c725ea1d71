package io.gemmaserving.runtime.engine.sampling;

import java.util.List;

/**
 * Finds stop strings in streamed text that arrives in pieces (one token's text at a time), across piece boundaries.
 *
 * <p>{@link #append} returns the text that is safe to send now: everything before a stop string once one is found,
 * else everything except a held-back tail that could still be the start of a stop string. At the end of a generation
 * that did not stop on a string, {@link #flush} returns the held-back tail.
 */
public final class StopMatcher {

    /** What {@link #append} lets through. {@code stopped}: a stop string was found; send {@code text} and finish. */
    public record Result(String text, boolean stopped, String stopString) {
    }

    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopMatcher(List<String> stops) {
        for (String s : stops) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
        this.stops = List.copyOf(stops);
    }

    /** Adds a piece of generated text. After a stop was found, further pieces are ignored. */
    public Result append(String piece) {
        if (stopped) {
            return new Result("", true, null);
        }
        held.append(piece);
        // the earliest stop string wins (the longest one on a tie at the same position)
        int at = -1;
        String which = null;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && (at < 0 || i < at || (i == at && s.length() > which.length()))) {
                at = i;
                which = s;
            }
        }
        if (at >= 0) {
            stopped = true;
            String out = held.substring(0, at);
            held.setLength(0);
            return new Result(out, true, which);
        }
        int keep = longestTailThatStartsAStop();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return new Result(out, false, null);
    }

    /** The held-back text, at the end of a generation that ended without a stop string. */
    public String flush() {
        String out = stopped ? "" : held.toString();
        held.setLength(0);
        return out;
    }

    public boolean stopped() {
        return stopped;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop string. */
    private int longestTailThatStartsAStop() {
        int best = 0;
        int len = held.length();
        for (String s : stops) {
            for (int k = Math.min(len, s.length() - 1); k > best; k--) {
                if (tailEqualsPrefix(len - k, s, k)) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }

    private boolean tailEqualsPrefix(int from, String s, int k) {
        for (int i = 0; i < k; i++) {
            if (held.charAt(from + i) != s.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
