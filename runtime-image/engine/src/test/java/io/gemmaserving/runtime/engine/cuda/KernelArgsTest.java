package io.gemmaserving.runtime.engine.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

@Tag("unit")
class KernelArgsTest {

    @Test
    void valuesAreAlignedToTheirSize() {
        // ptr(8) i32(4) i64(8) f32(4) f32(4) ptr(8): the i64 after an i32 skips 4 bytes of padding
        KernelArgs a = new KernelArgs().ptr(1).i32(2).i64(3).f32(4).f32(5).ptr(6);
        assertArrayEquals(new long[] {0, 8, 16, 24, 28, 32}, a.valueOffsets());
    }

    @Test
    void theVoidPointerArrayPointsAtEachValueInOrder() {
        try (Arena arena = Arena.ofConfined()) {
            KernelArgs a = new KernelArgs().ptr(0x7f00_1234_5678L).i32(-3).i64(1L << 40).f32(1.5f).i32(7);
            MemorySegment params = a.build(arena);
            assertEquals(5 * ValueLayout.ADDRESS.byteSize(), params.byteSize());
            long[] offsets = a.valueOffsets();
            long base = params.getAtIndex(ValueLayout.ADDRESS, 0).address();
            for (int i = 0; i < 5; i++) {
                MemorySegment p = params.getAtIndex(ValueLayout.ADDRESS, i);
                assertEquals(base + offsets[i], p.address(), "param " + i);
                assertEquals(0, p.address() % (i == 0 || i == 2 ? 8 : 4), "param " + i + " alignment");
            }
            assertEquals(0x7f00_1234_5678L, params.getAtIndex(ValueLayout.ADDRESS, 0).reinterpret(8).get(ValueLayout.JAVA_LONG, 0));
            assertEquals(-3, params.getAtIndex(ValueLayout.ADDRESS, 1).reinterpret(4).get(ValueLayout.JAVA_INT, 0));
            assertEquals(1L << 40, params.getAtIndex(ValueLayout.ADDRESS, 2).reinterpret(8).get(ValueLayout.JAVA_LONG, 0));
            assertEquals(1.5f, params.getAtIndex(ValueLayout.ADDRESS, 3).reinterpret(4).get(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(7, params.getAtIndex(ValueLayout.ADDRESS, 4).reinterpret(4).get(ValueLayout.JAVA_INT, 0));
        }
    }

    @Test
    void kindsNameEachParameterInOrder() {
        assertEquals("pilf", new KernelArgs().ptr(1).i32(2).i64(3).f32(4f).kinds());
        assertEquals("", new KernelArgs().kinds());
    }
}
