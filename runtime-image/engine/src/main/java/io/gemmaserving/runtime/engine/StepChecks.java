package io.gemmaserving.runtime.engine;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.Predicate;

/** The checks every {@link Engine#step} makes before it computes anything, so that all engines refuse alike. */
public final class StepChecks {

    private StepChecks() {
    }

    /**
     * Checks {@code steps} against the seam's contract (see {@link Engine#step}) and returns their caches, in order.
     *
     * @param type  the cache class of the calling engine
     * @param ours  true for a cache this engine made
     * @param vocab ids must lie in {@code [0, vocab)}
     */
    public static <C extends Engine.KvCache> C[] caches(List<Engine.Step> steps, Class<C> type, Predicate<C> ours,
                                                        int vocab, IntFunction<C[]> array) {
        C[] caches = array.apply(steps.size());
        IdentityHashMap<C, Boolean> seen = new IdentityHashMap<>();
        for (int s = 0; s < steps.size(); s++) {
            Engine.Step st = steps.get(s);
            if (!type.isInstance(st.cache()) || !ours.test(type.cast(st.cache()))) {
                throw new IllegalArgumentException("step " + s + ": KV cache was not made by this engine");
            }
            C c = type.cast(st.cache());
            if (seen.put(c, Boolean.TRUE) != null) {
                throw new IllegalArgumentException("step " + s + ": the same KV cache appears twice in one forward pass");
            }
            if (st.tokens() == null || st.tokens().length == 0) {
                throw new IllegalArgumentException("step " + s + ": no tokens");
            }
            if (st.position() < c.rewindLimit() || st.position() > c.length()) {
                throw new IllegalArgumentException("step " + s + ": position " + st.position() + " is outside the"
                        + " positions the KV cache can write next (" + c.rewindLimit() + " .. " + c.length() + ")");
            }
            if (st.position() + st.tokens().length > c.capacity()) {
                throw new IllegalArgumentException("step " + s + ": " + st.position() + " + " + st.tokens().length
                        + " tokens exceed the KV cache capacity of " + c.capacity());
            }
            for (int tok : st.tokens()) {
                if (tok < 0 || tok >= vocab) {
                    throw new IllegalArgumentException("step " + s + ": token id " + tok
                            + " is outside the vocabulary [0, " + vocab + ")");
                }
            }
            caches[s] = c;
        }
        return caches;
    }

    /**
     * How far a cache with sliding-window rings can be cut back: a layer of {@code slots[l]} slots holds positions
     * {@code length - slots[l] .. length - 1}, and a length L' needs {@code L' - window[l] .. L' - 1} of them. Layers
     * that keep every position have at least as many slots as the cache's capacity, so they never limit it.
     */
    public static int rewindLimit(int length, int[] slots, int[] window) {
        int limit = 0;
        for (int l = 0; l < slots.length; l++) {
            if (length > slots[l]) {
                limit = Math.max(limit, length - slots[l] + window[l]);
            }
        }
        return Math.min(limit, length);
    }
}
