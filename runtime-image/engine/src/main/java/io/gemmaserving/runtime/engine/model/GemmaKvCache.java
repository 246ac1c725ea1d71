package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.InferenceModel;
import java.util.Arrays;

/**
 * Keys and values of one sequence, f32, per layer: {@code k[layer][slot * kvDim + kvHead * headDim + d]}.
 *
 * <p>Global layers keep every position (slot = position), grown by doubling up to {@link #capacity()} so a short
 * sequence does not pay for a long one. Sliding-window layers keep a ring buffer of {@code window} slots
 * (slot = position % window): a query at position p only ever sees p - window + 1 .. p, and the current step's
 * own keys are read from the step's activations, so the ring never needs more than the window.
 */
public final class GemmaKvCache implements InferenceModel.KvCache {

    final GemmaModel owner;
    final float[][] k;
    final float[][] v;
    /** Slots the ring of a local layer has (global layers: Integer.MAX_VALUE, they grow). */
    final int[] ringSlots;
    private final int capacity;
    private final int kvDim;
    int length;

    GemmaKvCache(GemmaModel owner, GemmaConfig cfg, int capacity) {
        this.owner = owner;
        this.capacity = capacity;
        this.kvDim = cfg.kvHeads() * cfg.headDim();
        this.k = new float[cfg.layers()][];
        this.v = new float[cfg.layers()][];
        this.ringSlots = new int[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            int slots = cfg.isLocal(l) ? Math.min(cfg.slidingWindow(), capacity) : Integer.MAX_VALUE;
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

    @Override
    public long bytes() {
        long b = 0;
        for (int l = 0; l < k.length; l++) {
            b += (long) (k[l].length + v[l].length) * Float.BYTES;
        }
        return b;
    }
}
