package io.gemmaserving.runtime.engine.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("unit")
class PinnedStagerTest {

    /**
     * A fake copy engine: a "device" byte array. A copy is only performed at {@link #await} (as if the DMA ran
     * late), so a stager that overwrote a buffer before awaiting it would corrupt the result.
     */
    static final class FakeDevice implements PinnedStager.Copier {
        final byte[] memory;
        final List<String> log = new ArrayList<>();
        final MemorySegment[] pendingSrc;
        final long[] pendingDst;

        FakeDevice(int bytes, int buffers) {
            memory = new byte[bytes];
            pendingSrc = new MemorySegment[buffers];
            pendingDst = new long[buffers];
        }

        @Override
        public void copyAsync(int buffer, MemorySegment src, long deviceDst, long bytes) {
            assertEquals(null, pendingSrc[buffer], "buffer " + buffer + " reused while its copy was in flight");
            pendingSrc[buffer] = src;
            pendingDst[buffer] = deviceDst;
            log.add("copy " + buffer + " -> " + deviceDst + " (" + bytes + ")");
        }

        @Override
        public void await(int buffer) {
            MemorySegment src = pendingSrc[buffer];
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, memory, (int) pendingDst[buffer], (int) src.byteSize());
            pendingSrc[buffer] = null;
            log.add("await " + buffer);
        }
    }

    private static MemorySegment source(Arena arena, int n) {
        MemorySegment s = arena.allocate(n);
        for (int i = 0; i < n; i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
        }
        return s;
    }

    @Test
    void stagesRangesInChunksAlternatingBuffersAndAwaitsBeforeReuse() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = source(arena, 1000);
            MemorySegment[] buffers = {arena.allocate(64), arena.allocate(64)};
            FakeDevice dev = new FakeDevice(2000, 2);
            PinnedStager stager = new PinnedStager(buffers, dev);
            long[] ranges = {10, 100, 500, 37, 900, 50}; // 187 bytes, packed back to back at device offset 1000
            long n = stager.upload(src, ranges, 1000);
            assertEquals(187, n);
            assertEquals(3, stager.copies()); // 64 + 64 + 59
            byte[] expected = new byte[187];
            int at = 0;
            for (int i = 0; i < ranges.length; i += 2) {
                for (int k = 0; k < ranges[i + 1]; k++) {
                    expected[at++] = src.get(ValueLayout.JAVA_BYTE, ranges[i] + k);
                }
            }
            byte[] got = new byte[187];
            System.arraycopy(dev.memory, 1000, got, 0, 187);
            assertArrayEquals(expected, got);
            assertEquals(List.of("copy 0 -> 1000 (64)", "copy 1 -> 1064 (64)", "await 0", "copy 0 -> 1128 (59)",
                    "await 0", "await 1"), dev.log);
            for (MemorySegment pending : dev.pendingSrc) {
                assertEquals(null, pending, "upload returned with a copy still in flight");
            }
        }
    }

    @Test
    void aSingleBufferSerializesCopies() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = source(arena, 300);
            FakeDevice dev = new FakeDevice(300, 1);
            PinnedStager stager = new PinnedStager(new MemorySegment[] {arena.allocate(128)}, dev);
            stager.upload(src, new long[] {0, 300}, 0);
            assertArrayEquals(src.toArray(ValueLayout.JAVA_BYTE), dev.memory);
            assertEquals(List.of("copy 0 -> 0 (128)", "await 0", "copy 0 -> 128 (128)", "await 0",
                    "copy 0 -> 256 (44)", "await 0"), dev.log);
        }
    }

    @Test
    void anEmptyUploadCopiesNothingAndBadRangesAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = source(arena, 10);
            FakeDevice dev = new FakeDevice(10, 2);
            PinnedStager stager = new PinnedStager(new MemorySegment[] {arena.allocate(8), arena.allocate(8)}, dev);
            assertEquals(0, stager.upload(src, new long[0], 0));
            assertTrue(dev.log.isEmpty());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> stager.upload(src, new long[] {5, 6}, 0));
            assertEquals("range [5, 11) is outside the 10-byte source", e.getMessage());
            assertFalse(e.getMessage().contains("\n"));
            assertThrows(IllegalArgumentException.class,
                    () -> new PinnedStager(new MemorySegment[] {arena.allocate(8), arena.allocate(16)}, dev));
        }
    }
}
