package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine.Logits;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.Pass;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.Piece;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-pass buffer the kernels read: regions, row arrays, KV tables and where logit rows go. */
@Tag("unit")
class StepLayoutTest {

    static final StepLayout.KvSlots FAKE = new StepLayout.KvSlots() {
        public long keys(int step, int layer) { return 0x1000_0000L * (step + 1) + 0x100L * layer; }
        public long values(int step, int layer) { return keys(step, layer) + 0x80; }
        public int slots(int step, int layer) { return layer % 2 == 0 ? 40 : 1000 + step; }
    };

    @Test
    void regionsAreAlignedAndDisjoint() {
        StepLayout.Offsets o = StepLayout.Offsets.of(100, 7, 9, 3);
        long[] starts = {o.tokens(), o.pos(), o.seq(), o.logit(), o.cap(), o.kPtr(), o.vPtr()};
        long[] sizes = {400, 400, 400, 36, 4 * 21, 8 * 21, 8 * 21};
        for (int i = 0; i < starts.length; i++) {
            assertEquals(0, starts[i] % DeviceMemoryPlan.ALIGNMENT);
            long end = i + 1 < starts.length ? starts[i + 1] : o.bytes();
            assertTrue(starts[i] + sizes[i] <= end, "region " + i);
        }
        assertEquals(o.kPtr() + 8 * 2 * 7, o.kPtrRow(2));
        assertEquals(o.cap() + 4 * 7, o.capRow(1));
    }

    @Test
    void aMixedPassWritesRowsInPieceOrderAndTablesPerLayer() {
        // step 0: a 3-token prefill chunk at position 5 wanting every row; step 1: one decode token at 40, LAST;
        // step 2: a chunk without logits.
        Pass pass = new Pass(List.of(new Piece(0, 5, 0, 3, 0), new Piece(1, 40, 0, 1, 0), new Piece(2, 2, 2, 2, 2)));
        List<int[]> tokens = List.of(new int[] {7, 8, 9}, new int[] {42}, new int[] {1, 2, 3, 4});
        StepLayout.Offsets o = StepLayout.Offsets.of(8, 4, 6, 2);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(o.bytes());
            StepLayout.fill(host, o, pass, tokens, FAKE);
            assertArrayEquals(new int[] {7, 8, 9, 42, 3, 4}, ints(host, o.tokens(), 6));
            assertArrayEquals(new int[] {5, 6, 7, 40, 2, 3}, ints(host, o.pos(), 6));
            assertArrayEquals(new int[] {0, 0, 0, 1, 2, 2}, ints(host, o.seq(), 6));
            assertArrayEquals(new int[] {0, 1, 2, 3}, ints(host, o.logit(), 4));
            assertArrayEquals(new int[] {40, 40, 40}, ints(host, o.capRow(0), 3));
            assertArrayEquals(new int[] {1000, 1001, 1002}, ints(host, o.capRow(1), 3));
            assertEquals(FAKE.keys(2, 1), host.get(ValueLayout.JAVA_LONG, o.kPtrRow(1) + 16));
            assertEquals(FAKE.values(1, 0), host.get(ValueLayout.JAVA_LONG, o.vPtrRow(0) + 8));
        }
        StepLayout.LogitTarget[] t = StepLayout.logitTargets(pass, List.of(Logits.ALL, Logits.LAST, Logits.NONE));
        assertArrayEquals(new StepLayout.LogitTarget[] {new StepLayout.LogitTarget(0, 0), new StepLayout.LogitTarget(0, 1),
                new StepLayout.LogitTarget(0, 2), new StepLayout.LogitTarget(1, 0)}, t);
    }

    @Test
    void aLaterChunkOfAnAllLogitsStepLandsAtItsOwnRows() {
        Pass second = new Pass(List.of(new Piece(0, 300, 300, 2, 0)));
        assertArrayEquals(new StepLayout.LogitTarget[] {new StepLayout.LogitTarget(0, 300), new StepLayout.LogitTarget(0, 301)},
                StepLayout.logitTargets(second, List.of(Logits.ALL)));
    }

    @Test
    void aPassLargerThanTheLayoutIsRefused() {
        StepLayout.Offsets o = StepLayout.Offsets.of(2, 4, 4, 1);
        Pass pass = new Pass(List.of(new Piece(0, 0, 0, 3, 3)));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(o.bytes());
            assertThrows(IllegalArgumentException.class, () -> StepLayout.fill(host, o, pass, List.of(new int[3]), FAKE));
        }
    }

    private static int[] ints(MemorySegment m, long offset, int n) {
        return m.asSlice(offset, 4L * n).toArray(ValueLayout.JAVA_INT);
    }
}
