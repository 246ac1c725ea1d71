package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.StepChecks;
import java.lang.ref.Cleaner;

/**
 * One sequence's keys and values on the device(s): per rank one allocation holding, per layer, keys then values,
 * each [slots(layer)][kvWidth] elements of {@link Layout#bytesPerValue} bytes (IEEE halves by default, or f32; kvWidth
 * = this rank's KV heads x head dim). Global layers have one slot per
 * position up to the capacity; sliding-window layers a ring of {@link DeviceMemoryPlan#ringSlots} slots
 * (slot = position % slots), which holds the window, one pass's chunk, and {@link DeviceMemoryPlan#SPARE_SLOTS}
 * positions more for rewinds.
 *
 * <p>The seam has no close(): the device memory is given back through {@link KvMemory#release} when the cache becomes
 * unreachable (a {@link Cleaner}), and the engine frees it on its own thread at its next step.
 */
public final class DeviceKvCache implements Engine.KvCache {

    private static final Cleaner CLEANER = Cleaner.create();

    /** The device side: allocation, copies and deferred release, per rank. */
    public interface KvMemory {
        int ranks();

        long alloc(int rank, long bytes);

        /** Device-to-device copy on the rank's stream, complete before the rank's next pass. */
        void copy(int rank, long dst, long src, long bytes);

        /** Frees {@code bases} (one per rank) later, on the engine's thread; called from the cleaner. */
        void release(long[] bases);
    }

    /** Slots and byte offsets of each layer within one rank's allocation. */
    public record Layout(int[] slots, long[] keyOffset, long[] valueOffset, long bytes, int kvWidth, int bytesPerValue) {

        /**
         * @param window        per layer: the sliding window, or 0 for a global layer
         * @param chunk         most tokens of one sequence in one pass
         * @param kvWidth       values per position and layer on this rank
         * @param bytesPerValue 2 (f16) or 4 (f32)
         */
        public static Layout of(int[] window, int capacity, int chunk, int kvWidth, int bytesPerValue) {
            int layers = window.length;
            int[] slots = new int[layers];
            long[] k = new long[layers];
            long[] v = new long[layers];
            long at = 0;
            for (int l = 0; l < layers; l++) {
                slots[l] = window[l] > 0 ? DeviceMemoryPlan.ringSlots(window[l], chunk, capacity) : capacity;
                long b = (long) slots[l] * kvWidth * bytesPerValue;
                k[l] = at;
                at = DeviceMemoryPlan.align(at + b);
                v[l] = at;
                at = DeviceMemoryPlan.align(at + b);
            }
            return new Layout(slots, k, v, at, kvWidth, bytesPerValue);
        }
    }

    final Object owner;
    private final KvMemory memory;
    private final int capacity;
    private final int[] window;
    private final Layout[] layouts; // per rank
    private final long[] bases;     // per rank
    int length;

    /** A fresh cache of {@code capacity} positions; {@code layouts[r]} is rank r's layout. */
    DeviceKvCache(Object owner, KvMemory memory, int capacity, int[] window, Layout[] layouts) {
        this.owner = owner;
        this.memory = memory;
        this.capacity = capacity;
        this.window = window;
        this.layouts = layouts;
        this.bases = new long[memory.ranks()];
        for (int r = 0; r < bases.length; r++) {
            bases[r] = memory.alloc(r, layouts[r].bytes());
        }
        long[] toFree = bases.clone();
        CLEANER.register(this, () -> memory.release(toFree));
    }

    /** Rank {@code rank}'s keys of layer {@code layer}: [slots][kvWidth] values. */
    public long keys(int rank, int layer) {
        return bases[rank] + layouts[rank].keyOffset()[layer];
    }

    public long values(int rank, int layer) {
        return bases[rank] + layouts[rank].valueOffset()[layer];
    }

    public int slots(int layer) {
        return layouts[0].slots()[layer];
    }

    private boolean ring(int layer) {
        return window[layer] > 0 && slots(layer) < capacity;
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
        for (Layout l : layouts) {
            b += l.bytes();
        }
        return b;
    }

    @Override
    public int rewindLimit() {
        return StepChecks.rewindLimit(length, layouts[0].slots(), window);
    }

    @Override
    public void truncate(int newLength) {
        checkRewind(newLength);
        length = newLength;
    }

    /** A new cache with the first {@code newLength} positions: rings copied whole, global layers up to newLength. */
    @Override
    public DeviceKvCache copy(int newLength) {
        checkRewind(newLength);
        DeviceKvCache c = new DeviceKvCache(owner, memory, capacity, window, layouts);
        for (int r = 0; r < bases.length; r++) {
            Layout lay = layouts[r];
            for (int l = 0; l < window.length; l++) {
                long n = (ring(l) ? slots(l) : newLength) * (long) lay.kvWidth() * lay.bytesPerValue();
                if (n > 0) {
                    memory.copy(r, c.keys(r, l), keys(r, l), n);
                    memory.copy(r, c.values(r, l), values(r, l), n);
                }
            }
        }
        c.length = newLength;
        return c;
    }

    void checkRewind(int newLength) {
        if (newLength < rewindLimit() || newLength > length) {
            throw new IllegalArgumentException("KV cache of " + length + " positions cannot be cut to " + newLength
                    + " (the sliding-window layers still hold positions " + rewindLimit() + " .. " + length + ")");
        }
    }
}
