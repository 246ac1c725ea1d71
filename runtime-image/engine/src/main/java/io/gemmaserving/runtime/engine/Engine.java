package io.gemmaserving.runtime.engine;

import java.util.List;

/**
 * The engine seam: one scheduler step on a loaded model. The continuous-batching scheduler (and the CLI) builds
 * each step from the decode tokens of running sequences and chunks of the prompts of new ones, and calls
 * {@link #step} once per step. The CPU engine ({@code model.GemmaModel}) and the CUDA engine implement it; nothing
 * above this interface knows which one runs.
 *
 * <p>In: each sequence's token ids, the position of its first token and its KV cache (the sequence's KV slots).
 * Out: logits (none, the last token's, or every token's). Implementations are not thread-safe: one scheduler
 * thread drives {@link #step}.
 */
public interface Engine extends AutoCloseable {

    /** Name, architecture, context length, vocabulary size, and the per-token KV bytes used for budgeting. */
    ModelInfo info();

    /** Tokenizer built from the model's own vocabulary (GGUF metadata or tokenizer.json). */
    GemmaTokenizer tokenizer();

    /** What runs the steps, for the start-up log: e.g. "cpu (vector, 16 float lanes, 2 threads)". */
    String description();

    /**
     * A fresh KV cache for one sequence that may grow to {@code maxTokens} positions. Sliding-window layers keep
     * only their window (plus a few slots so that a short rewind stays possible), global layers every position.
     */
    KvCache newKvCache(int maxTokens);

    /**
     * One forward pass over several sequences at once.
     *
     * <p>Each step writes {@code tokens} at positions {@code position ..} of its cache. A position below
     * {@code cache.length()} first truncates the cache to it (a rejected draft, a reused prefix); it must be at
     * least {@code cache.rewindLimit()}. Afterwards {@code cache.length() == position + tokens.length}.
     *
     * @return per step, in order: null for {@link Logits#NONE}; {@code vocabSize} floats for {@link Logits#LAST};
     *         {@code tokens.length * vocabSize} floats, row after row, for {@link Logits#ALL}. Final soft-capping
     *         (Gemma 2) is applied.
     * @throws IllegalArgumentException naming the step for a cache of another engine, the same cache twice, a
     *         position outside {@code [rewindLimit, length]}, too many tokens for the capacity, or an id outside the
     *         vocabulary
     */
    float[][] step(List<Step> steps);

    /** Which logits a step wants back. */
    enum Logits {
        NONE, LAST, ALL
    }

    /** One sequence's share of a forward pass. */
    record Step(KvCache cache, int position, int[] tokens, Logits logits) {

        /** Appends {@code tokens} at the end of the cache; the last token's logits when {@code wantLogits}. */
        public Step(KvCache cache, int[] tokens, boolean wantLogits) {
            this(cache, cache.length(), tokens, wantLogits ? Logits.LAST : Logits.NONE);
        }
    }

    /** Per-sequence attention state: the sequence's KV slots, wherever they live (heap, device). */
    interface KvCache {
        /** Positions written so far. */
        int length();

        /** Largest length this cache accepts. */
        int capacity();

        /** Bytes this cache holds (for the KV-cache usage metric). */
        long bytes();

        /**
         * The smallest length this cache can still be truncated or copied to: 0 until a sliding-window ring has
         * overwritten a position a shorter sequence would need, then {@code length()} minus the ring's spare slots.
         */
        int rewindLimit();

        /** Forgets positions {@code length ..}; {@code rewindLimit() <= length <= length()}. */
        void truncate(int length);

        /**
         * A new cache of the same capacity holding this cache's first {@code length} positions
         * ({@code rewindLimit() <= length <= length()}): a forked choice of {@code n > 1}, or a cached prefix.
         */
        KvCache copy(int length);
    }

    @Override
    void close();
}
