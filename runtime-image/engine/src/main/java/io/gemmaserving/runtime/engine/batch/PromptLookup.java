package io.gemmaserving.runtime.engine.batch;

/**
 * Prompt-lookup drafting (n-gram speculation): the tokens that followed the most recent earlier occurrence of the
 * sequence's last n tokens, for n from {@code maxNgram} down to 1, are proposed as the next ones. No draft model:
 * text that copies from its input (rewriting, extracting, quoting code) repeats long runs of the context.
 */
final class PromptLookup {

    private PromptLookup() {
    }

    /**
     * Up to {@code maxDraft} proposed tokens following {@code context[0 .. length)}, or an empty array.
     *
     * @param context the prompt and the tokens generated so far, {@code length} of them valid
     */
    static int[] draft(int[] context, int length, int maxNgram, int maxDraft) {
        if (maxDraft < 1) {
            return new int[0];
        }
        for (int n = Math.min(maxNgram, length - 1); n >= 1; n--) {
            int tail = length - n;
            // most recent earlier start i with context[i .. i+n) == context[tail .. length)
            for (int i = tail - 1; i >= 0; i--) {
                if (matches(context, i, tail, n)) {
                    int from = i + n;
                    int count = Math.min(maxDraft, length - from);
                    if (count > 0) {
                        int[] d = new int[count];
                        System.arraycopy(context, from, d, 0, count);
                        return d;
                    }
                }
            }
        }
        return new int[0];
    }

    private static boolean matches(int[] c, int a, int b, int n) {
        for (int k = 0; k < n; k++) {
            if (c[a + k] != c[b + k]) {
                return false;
            }
        }
        return true;
    }
}
