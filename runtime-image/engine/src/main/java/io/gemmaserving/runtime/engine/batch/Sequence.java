package io.gemmaserving.runtime.engine.batch;

import io.gemmaserving.runtime.engine.Engine.KvCache;

/** One request's state inside the scheduler (touched by the scheduler thread only, except {@link #cancelled}). */
final class Sequence implements BatchScheduler.Handle {

    final int[] prompt;
    final GenerationParams params;
    final GenerationListener listener;
    final TokenSampler sampler;
    final TextAssembler text;
    volatile boolean cancelled;
    private final BatchScheduler owner;

    KvCache cache;
    /** Prompt tokens already in the cache. */
    int prefilled;
    /** The token the next decode step feeds (the last one sampled). */
    int nextInput = -1;
    int generated;
    boolean done;

    Sequence(BatchScheduler owner, int[] prompt, GenerationParams params, GenerationListener listener, long seed) {
        this.owner = owner;
        this.prompt = prompt;
        this.params = params;
        this.listener = listener;
        this.sampler = new TokenSampler(params.temperature(), params.topP(), params.presencePenalty(),
                params.frequencyPenalty(), seed);
        this.text = new TextAssembler(params.stop());
    }

    boolean prefilling() {
        return prefilled < prompt.length;
    }

    @Override
    public void cancel() {
        if (!cancelled) {
            cancelled = true;
            owner.cancelled(this);
        }
    }
}
