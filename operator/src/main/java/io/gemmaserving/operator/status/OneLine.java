package io.gemmaserving.operator.status;

/** Text for a condition message or an Event: one line, at most {@link #MAX_CHARS} characters. */
public final class OneLine {

    /** About 1 KiB: what kubectl describe, consoles and Argo CD show without wrapping pages. */
    public static final int MAX_CHARS = 1024;

    private OneLine() {
    }

    public static String of(String text) {
        return of(text, MAX_CHARS);
    }

    /** Newlines and runs of blanks become one space; longer than {@code max}: cut, ending in "...". */
    public static String of(String text, int max) {
        if (text == null) {
            return "";
        }
        String flat = text.replaceAll("\\s+", " ").trim();
        return flat.length() <= max ? flat : flat.substring(0, max - 3) + "...";
    }

    /**
     * An exception as a person reads it: the innermost message that says something, without stack frames, and the
     * exception's simple class name only when there is no message.
     */
    public static String of(Throwable e) {
        Throwable t = e;
        String message = null;
        while (t != null) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                message = t.getMessage();
            }
            if (t.getCause() == t) {
                break;
            }
            t = t.getCause();
        }
        if (message == null) {
            return e.getClass().getSimpleName();
        }
        // a message that embeds a stack trace (JOSDK's aggregated exceptions do): keep the lines before the frames
        StringBuilder kept = new StringBuilder();
        for (String line : message.split("\\R")) {
            String s = line.strip();
            if (s.startsWith("at ") || s.matches("\\.\\.\\. \\d+ more") || s.startsWith("Caused by:")) {
                continue;
            }
            kept.append(s).append(' ');
        }
        return of(kept.toString());
    }
}
