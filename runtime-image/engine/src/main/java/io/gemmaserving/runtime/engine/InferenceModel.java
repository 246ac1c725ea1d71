package io.gemmaserving.runtime.engine;

import java.util.List;

/**
 * What the server (and the CLI) needs of a loaded model: its tokenizer, per-sequence KV caches and one batched
 * forward pass. The server's continuous-batching scheduler builds each step from the decode tokens of running
 * sequences and chunks of the prompts of new ones, and calls {@link #forward} once per step.
 *
 * <p>Implementations are not thread-safe: one scheduler thread drives {@link #forward}.
 */
public interface InferenceModel extends AutoCloseable {

    /** Name, architecture, context length, vocabulary size, and the per-token KV bytes used for budgeting. */
    ModelInfo info();

    /** Tokenizer built from the model's own vocabulary (GGUF metadata or tokenizer.json). */
    GemmaTokenizer tokenizer();

    /**
     * A fresh KV cache for one sequence that may grow to {@code maxTokens} positions. Sliding-window layers keep
     * only their window (a ring buffer), global layers keep every position.
     */
    KvCache newKvCache(int maxTokens);

    /**
     * One forward pass over several sequences at once.
     *
     * <p>Each step appends {@code tokens} to its sequence at positions {@code cache.length() ..}; the cache grows
     * by {@code tokens.length}. For each step with {@code wantLogits}, the result holds the logits of its last
     * token (length {@code info().vocabSize()}); for the others it holds null. Order matches {@code steps}.
     */
    float[][] forward(List<Step> steps);

    /** One sequence's share of a forward pass. */
    record Step(KvCache cache, int[] tokens, boolean wantLogits) {
    }

    /** Per-sequence attention state. */
    interface KvCache {
        /** Positions written so far. */
        int length();

        /** Largest length this cache accepts. */
        int capacity();

        /** Bytes this cache holds (for the KV-cache usage metric). */
        long bytes();
    }

    @Override
    void close();
}
