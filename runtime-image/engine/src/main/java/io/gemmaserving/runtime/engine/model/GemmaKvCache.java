package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.Engine;
import java.util.Arrays;

/**
 * Keys and values of one sequence, f32, per layer: {@code k[layer][slot * kvDim + kvHead * headDim + d]}.
 *
 * <p>Global layers keep every position (slot = position), grown by doubling up to {@link #capacity()} so a short
 * sequence does not pay for a long one. Sliding-window layers keep a ring buffer of {@code window} slots
 * (slot = position % window): a query at position p only ever sees p - window + 1 .. p, and the current step's
 * own keys are read from the step's activations, so the ring never needs more than the window.
 */
public final class GemmaKvCache implements Engine.KvCache {

    final GemmaModel owner;
    final float[][] k;
    final float[][] v;
    /** Slots the ring of a local layer has (global layers: Integer.MAX_VALUE, they grow). */
    final int[] ringSlots;
    private final int capacity;
    private final int kvDim;
    int length;

    /**
     * Slots a sliding-window ring holds beyond its window, so that a step can be taken back (a rejected draft of
     * prompt-lookup decoding) without losing positions the window still needs. Drafts are a few tokens long.
     */
    static final int SPARE_SLOTS = 32;

    final int[] window;

    GemmaKvCache(GemmaModel owner, GemmaConfig cfg, int capacity) {
        this.owner = owner;
        this.capacity = capacity;
        this.kvDim = cfg.kvHeads() * cfg.headDim();
        this.k = new float[cfg.layers()][];
        this.v = new float[cfg.layers()][];
        this.ringSlots = new int[cfg.layers()];
        this.window = new int[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            window[l] = cfg.isLocal(l) ? cfg.slidingWindow() : Integer.MAX_VALUE;
            int slots = cfg.isLocal(l) ? Math.min(cfg.slidingWindow() + SPARE_SLOTS, capacity) : Integer.MAX_VALUE;
            ringSlots[l] = slots;
            int initial = cfg.isLocal(l) ? slots : Math.min(capacity, 64);
            k[l] = new float[initial * kvDim];
            v[l] = new float[initial * kvDim];
        }
    }

    /** Slot of position {@code pos} in layer {@code layer}. */
    int slot(int layer, int pos) {
        int ring = ringSlots[layer];
        return ring == Integer.MAX_VALUE ? pos : pos % ring;
    }

    /** Makes global layers hold {@code positions} slots (doubling, capped at capacity). */
    void ensure(int positions) {
        for (int l = 0; l < k.length; l++) {
            if (ringSlots[l] != Integer.MAX_VALUE) {
                continue;
            }
            int have = k[l].length / kvDim;
            if (have < positions) {
                int n = Math.min(capacity, Math.max(positions, have * 2));
                k[l] = Arrays.copyOf(k[l], n * kvDim);
                v[l] = Arrays.copyOf(v[l], n * kvDim);
            }
        }
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public int capacity() {
        return capacity;
    }

    /** Copy constructor for {@link #copy}: same capacity and rings, the first {@code length} positions. */
    private GemmaKvCache(GemmaKvCache from, int length) {
        this.owner = from.owner;
        this.capacity = from.capacity;
        this.kvDim = from.kvDim;
        this.ringSlots = from.ringSlots;
        this.window = from.window;
        this.k = new float[from.k.length][];
        this.v = new float[from.v.length][];
        for (int l = 0; l < k.length; l++) {
            // A ring is copied whole (slot = position % ring stays valid); a global layer up to length.
            int n = ringSlots[l] == Integer.MAX_VALUE ? Math.max(length, 1) * kvDim : from.k[l].length;
            k[l] = Arrays.copyOf(from.k[l], n);
            v[l] = Arrays.copyOf(from.v[l], n);
        }
        this.length = length;
    }

    @Override
    public int rewindLimit() {
        // A ring of R slots holds positions length-R .. length-1; length L' needs L'-window .. L'-1 of them.
        int limit = 0;
        for (int l = 0; l < k.length; l++) {
            int ring = ringSlots[l];
            if (ring != Integer.MAX_VALUE && length > ring) {
                limit = Math.max(limit, length - ring + window[l]);
            }
        }
        return Math.min(limit, length);
    }

    @Override
    public void truncate(int newLength) {
        checkRewind(newLength);
        length = newLength;
    }

    @Override
    public GemmaKvCache copy(int newLength) {
        checkRewind(newLength);
        return new GemmaKvCache(this, newLength);
    }

    private void checkRewind(int newLength) {
        if (newLength < rewindLimit() || newLength > length) {
            throw new IllegalArgumentException("KV cache of " + length + " positions cannot be cut to " + newLength
                    + " (the sliding-window layers still hold positions " + rewindLimit() + " .. " + length + ")");
        }
    }

    @Override
    public long bytes() {
        long b = 0;
        for (int l = 0; l < k.length; l++) {
            b += (long) (k[l].length + v[l].length) * Float.BYTES;
        }
        return b;
    }
}
