package io.gemmaserving.runtime.engine.model;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.StepChecks;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.backend.Backend;
import java.util.Arrays;

/**
 * Keys and values of one sequence, per layer: {@code k[layer][slot * kvDim + kvHead * headDim + d]}, as floats
 * ({@link KvCacheType#F32}) or as IEEE half bits in {@code hk}/{@code hv} ({@link KvCacheType#F16}, rounded to
 * nearest even when written). Only one of the two pairs of arrays is allocated.
 *
 * <p>Global layers keep every position (slot = position), grown by doubling up to {@link #capacity()} so a short
 * sequence does not pay for a long one. Sliding-window layers keep a ring buffer of {@code window} slots
 * (slot = position % window): a query at position p only ever sees p - window + 1 .. p, and the current step's
 * own keys are read from the step's activations, so the ring never needs more than the window.
 */
public final class GemmaKvCache implements Engine.KvCache {

    final GemmaModel owner;
    final KvCacheType type;
    final float[][] k;
    final float[][] v;
    final short[][] hk;
    final short[][] hv;
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

    GemmaKvCache(GemmaModel owner, GemmaConfig cfg, int capacity, KvCacheType type) {
        this.owner = owner;
        this.type = type;
        this.capacity = capacity;
        this.kvDim = cfg.kvHeads() * cfg.headDim();
        boolean half = type == KvCacheType.F16;
        this.k = half ? null : new float[cfg.layers()][];
        this.v = half ? null : new float[cfg.layers()][];
        this.hk = half ? new short[cfg.layers()][] : null;
        this.hv = half ? new short[cfg.layers()][] : null;
        this.ringSlots = new int[cfg.layers()];
        this.window = new int[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            window[l] = cfg.isLocal(l) ? cfg.slidingWindow() : Integer.MAX_VALUE;
            int slots = cfg.isLocal(l) ? Math.min(cfg.slidingWindow() + SPARE_SLOTS, capacity) : Integer.MAX_VALUE;
            ringSlots[l] = slots;
            int initial = cfg.isLocal(l) ? slots : Math.min(capacity, 64);
            if (half) {
                hk[l] = new short[initial * kvDim];
                hv[l] = new short[initial * kvDim];
            } else {
                k[l] = new float[initial * kvDim];
                v[l] = new float[initial * kvDim];
            }
        }
    }

    private int layers() {
        return ringSlots.length;
    }

    /** Slots layer {@code l} has allocated. */
    private int slots(int l) {
        return (k != null ? k[l].length : hk[l].length) / kvDim;
    }

    /** Query-key dot of {@code q[qOff..qOff+n)} with the key stored at {@code off} of layer {@code l}. */
    float dotKey(Backend backend, int l, float[] q, int qOff, int off, int n) {
        return k != null ? backend.dot(q, qOff, k[l], off, n) : backend.dotF16(q, qOff, hk[l], off, n);
    }

    /** {@code out[o..o+n) += a * value stored at off of layer l}. */
    void addValue(Backend backend, int l, float a, int off, float[] out, int o, int n) {
        if (v != null) {
            backend.axpy(a, v[l], off, out, o, n);
        } else {
            backend.axpyF16(a, hv[l], off, out, o, n);
        }
    }

    /** Copies the key of layer {@code l} stored at {@code off} into {@code dst[dOff..dOff+n)} as floats. */
    void readKey(Backend backend, int l, int off, float[] dst, int dOff, int n) {
        if (k != null) {
            System.arraycopy(k[l], off, dst, dOff, n);
        } else {
            backend.widenF16(hk[l], off, dst, dOff, n);
        }
    }

    /** As {@link #readKey}, for the value. */
    void readValue(Backend backend, int l, int off, float[] dst, int dOff, int n) {
        if (v != null) {
            System.arraycopy(v[l], off, dst, dOff, n);
        } else {
            backend.widenF16(hv[l], off, dst, dOff, n);
        }
    }

    /** Stores one position's keys and values ({@code kvDim} floats each from {@code kf[kOff..]}, {@code vf[vOff..]}). */
    void write(int l, int slot, float[] kf, int kOff, float[] vf, int vOff) {
        int o = slot * kvDim;
        if (k != null) {
            System.arraycopy(kf, kOff, k[l], o, kvDim);
            System.arraycopy(vf, vOff, v[l], o, kvDim);
        } else {
            short[] a = hk[l], b = hv[l];
            for (int i = 0; i < kvDim; i++) {
                a[o + i] = Float.floatToFloat16(kf[kOff + i]);
                b[o + i] = Float.floatToFloat16(vf[vOff + i]);
            }
        }
    }

    /** Slot of position {@code pos} in layer {@code layer}. */
    int slot(int layer, int pos) {
        int ring = ringSlots[layer];
        return ring == Integer.MAX_VALUE ? pos : pos % ring;
    }

    /** Makes global layers hold {@code positions} slots (doubling, capped at capacity). */
    void ensure(int positions) {
        for (int l = 0; l < layers(); l++) {
            if (ringSlots[l] != Integer.MAX_VALUE) {
                continue;
            }
            int have = slots(l);
            if (have < positions) {
                int n = Math.min(capacity, Math.max(positions, have * 2));
                if (k != null) {
                    k[l] = Arrays.copyOf(k[l], n * kvDim);
                    v[l] = Arrays.copyOf(v[l], n * kvDim);
                } else {
                    hk[l] = Arrays.copyOf(hk[l], n * kvDim);
                    hv[l] = Arrays.copyOf(hv[l], n * kvDim);
                }
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
        this.type = from.type;
        this.capacity = from.capacity;
        this.kvDim = from.kvDim;
        this.ringSlots = from.ringSlots;
        this.window = from.window;
        int layers = from.layers();
        this.k = from.k == null ? null : new float[layers][];
        this.v = from.v == null ? null : new float[layers][];
        this.hk = from.hk == null ? null : new short[layers][];
        this.hv = from.hv == null ? null : new short[layers][];
        for (int l = 0; l < layers; l++) {
            // A ring is copied whole (slot = position % ring stays valid); a global layer up to length.
            int n = (ringSlots[l] == Integer.MAX_VALUE ? Math.max(length, 1) : from.slots(l)) * kvDim;
            if (k != null) {
                k[l] = Arrays.copyOf(from.k[l], n);
                v[l] = Arrays.copyOf(from.v[l], n);
            } else {
                hk[l] = Arrays.copyOf(from.hk[l], n);
                hv[l] = Arrays.copyOf(from.hv[l], n);
            }
        }
        this.length = length;
    }

    @Override
    public int rewindLimit() {
        return StepChecks.rewindLimit(length, ringSlots, window);
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
        for (int l = 0; l < layers(); l++) {
            b += 2L * slots(l) * kvDim * type.bytesPerValue();
        }
        return b;
    }
}
