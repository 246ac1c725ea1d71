package io.gemmaserving.runtime.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device KV cache sizing (rings for sliding-window layers), rewind limits and copies, on a fake device memory. */
@Tag("unit")
class DeviceKvCacheTest {

    /** Bump allocator per rank; records copies. */
    static final class FakeMemory implements DeviceKvCache.KvMemory {
        final int ranks;
        final long[] next;
        final List<long[]> copies = new ArrayList<>(); // {rank, dst, src, bytes}

        FakeMemory(int ranks) {
            this.ranks = ranks;
            this.next = new long[ranks];
            for (int r = 0; r < ranks; r++) {
                next[r] = (r + 1L) << 40;
            }
        }

        public int ranks() { return ranks; }
        public long alloc(int rank, long bytes) { long p = next[rank]; next[rank] += bytes; return p; }
        public void copy(int rank, long dst, long src, long bytes) { copies.add(new long[] {rank, dst, src, bytes}); }
        public void release(long[] bases) { }
    }

    // Gemma-3-like: window 4 on layers 0, 1 and 3, layer 2 global; kv width 64 values of 2 bytes (f16, the default).
    static final int[] WINDOW = {4, 4, 0, 4};
    static final int CHUNK = 8;

    static DeviceKvCache cache(FakeMemory m, int capacity) {
        DeviceKvCache.Layout[] layouts = new DeviceKvCache.Layout[m.ranks()];
        for (int r = 0; r < layouts.length; r++) {
            layouts[r] = DeviceKvCache.Layout.of(WINDOW, capacity, CHUNK, 64, 2);
        }
        return new DeviceKvCache("engine", m, capacity, WINDOW, layouts);
    }

    @Test
    void slidingWindowLayersKeepWindowPlusChunkPlusSpareSlots() {
        DeviceKvCache.Layout l = DeviceKvCache.Layout.of(WINDOW, 1000, CHUNK, 64, 2);
        int ring = 4 + CHUNK - 1 + DeviceMemoryPlan.SPARE_SLOTS;
        assertArrayEquals(new int[] {ring, ring, 1000, ring}, l.slots());
        long ringBytes = DeviceMemoryPlan.align((long) ring * 64 * 2);
        assertEquals(2 * (3 * ringBytes + 1000L * 64 * 2), l.bytes());
        assertEquals(2 * (3 * DeviceMemoryPlan.align((long) ring * 64 * 4) + 1000L * 64 * 4),
                DeviceKvCache.Layout.of(WINDOW, 1000, CHUNK, 64, 4).bytes(), "f32: 4 bytes per value");
        assertEquals(l.keyOffset()[1] + ringBytes, l.valueOffset()[1]);
        // a capacity below the ring: slot = position everywhere
        assertArrayEquals(new int[] {20, 20, 20, 20}, DeviceKvCache.Layout.of(WINDOW, 20, CHUNK, 64, 2).slots());
    }

    @Test
    void rewindLimitFollowsTheRingAndTruncateEnforcesIt() {
        DeviceKvCache c = cache(new FakeMemory(1), 1000);
        int ring = c.slots(0);
        c.length = ring;
        assertEquals(0, c.rewindLimit(), "nothing overwritten yet");
        c.length = ring + 30;
        assertEquals(30 + 4, c.rewindLimit(), "positions 0..29 are gone; a length needs its window before it");
        assertThrows(IllegalArgumentException.class, () -> c.truncate(33));
        assertThrows(IllegalArgumentException.class, () -> c.truncate(ring + 31));
        c.truncate(34);
        assertEquals(34, c.length());
    }

    @Test
    void aCopyTakesWholeRingsAndTheGlobalPrefixOnEveryRank() {
        FakeMemory m = new FakeMemory(2);
        DeviceKvCache c = cache(m, 100);
        c.length = 40; // below the ring's slots: any length can still be copied
        DeviceKvCache d = c.copy(10);
        assertEquals(10, d.length());
        assertEquals(100, d.capacity());
        assertEquals(40, c.length());
        int ring = c.slots(0);
        // 2 ranks x 4 layers x (keys, values)
        assertEquals(16, m.copies.size());
        for (long[] cp : m.copies) {
            int rank = (int) cp[0];
            boolean global = cp[2] == c.keys(rank, 2) || cp[2] == c.values(rank, 2);
            assertEquals((global ? 10L : ring) * 64 * 2, cp[3]);
            assertTrue(cp[1] != cp[2]);
        }
        assertEquals(d.keys(1, 3), m.copies.stream().filter(cp -> cp[2] == c.keys(1, 3)).findFirst().orElseThrow()[1]);
        assertEquals(2 * DeviceKvCache.Layout.of(WINDOW, 100, CHUNK, 64, 2).bytes(), c.bytes());
    }
}
