package io.gemmaserving.runtime.engine.batch;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.Engine.KvCache;
import java.util.List;

/** One request's state inside the scheduler (touched by the scheduler thread only, except {@link #cancelled}). */
final class Sequence implements BatchScheduler.Handle {

    final int[] prompt;
    final GenerationParams params;
    final GenerationListener listener;
    final TokenSampler sampler;
    final TextAssembler text;
    /** The choices of one request with n > 1 (they share the prompt's prefill), or null. */
    final Choices choices;
    volatile boolean cancelled;
    private final BatchScheduler owner;

    KvCache cache;
    /** Budget positions this sequence reserved: it never writes more. */
    int reserved;
    /** Prompt tokens already in the cache. */
    int prefilled;
    /** The token the next decode step feeds (the last one sampled). */
    int nextInput = -1;
    int generated;
    boolean done;
    /** The prompt, then every sampled token: {@code history[0 .. prompt.length + generated)}. */
    int[] history;
    /** A choice waiting for the prompt's prefill by another choice of its request. */
    boolean parked;
    /** The cached prefix found when it was admitted, and whether it owns that entry's cache (no copy). */
    PrefixCache.Match prefix;
    Engine.KvCache takenPrefix;
    /** Logits to sample the first token from without a forward pass (a choice that got the prompt's KV). */
    float[] pendingLogits;

    Sequence(BatchScheduler owner, int[] prompt, GenerationParams params, GenerationListener listener, long seed,
             Choices choices) {
        this.owner = owner;
        this.prompt = prompt;
        this.params = params;
        this.listener = listener;
        this.choices = choices;
        this.sampler = new TokenSampler(params.temperature(), params.topP(), params.presencePenalty(),
                params.frequencyPenalty(), seed);
        this.text = new TextAssembler(params.stop());
    }

    boolean prefilling() {
        return prefilled < prompt.length;
    }

    /** Positions of the cache that hold this sequence's tokens: the prompt so far, then each fed sampled token. */
    int validLength() {
        if (prefilling()) {
            return prefilled;
        }
        return generated == 0 ? prompt.length : prompt.length + generated - 1;
    }

    void record(int token) {
        int at = prompt.length + generated;
        if (history == null) {
            history = new int[Math.min(prompt.length + params.maxTokens(), prompt.length + 256)];
            System.arraycopy(prompt, 0, history, 0, prompt.length);
        }
        if (at >= history.length) {
            history = java.util.Arrays.copyOf(history, Math.max(at + 1, history.length * 2));
        }
        history[at] = token;
    }

    /** The prompt and the sampled tokens, {@code prompt.length + generated} of them valid. */
    int[] context() {
        return history == null ? prompt : history;
    }

    @Override
    public void cancel() {
        if (!cancelled) {
            cancelled = true;
            owner.cancelled(this);
        }
    }

    /** The n choices of one request: the first one admitted prefills the prompt, the others copy its KV. */
    static final class Choices {
        List<Sequence> members;
        /** The choice that prefills; null until one is admitted, or again when it ended before its prefill did. */
        Sequence leader;
        /** The logits of the prompt's last token, once the leader has prefilled. */
        float[] promptLogits;
        /** The prompt's KV for choices admitted after the leader prefilled (the leader's own cache moves on). */
        KvCache promptCache;
        /** Choices that have not started yet. */
        int unstarted;
    }
}
