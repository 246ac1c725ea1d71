package io.gemmaserving.runtime.engine.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Packs kernel parameters the way {@code cuLaunchKernel(..., void** kernelParams, ...)} wants them: an array of
 * pointers, one per parameter in declaration order, each pointing at that parameter's value. Values live in one
 * segment, each at an offset aligned to its own size (so an 8-byte pointer never straddles); the pointer array is a
 * second segment. Both belong to the arena given, which must outlive the launch call (the driver copies the values
 * during {@code cuLaunchKernel}, so a confined arena around the launch is enough).
 *
 * <pre>{@code
 * MemorySegment params = new KernelArgs().ptr(w).i32(type).i64(rowBytes).f32(eps).build(arena);
 * }</pre>
 */
public final class KernelArgs {

    private enum Kind { I32, I64, F32, PTR }

    private record Arg(Kind kind, long bits) {
        int size() {
            return kind == Kind.I32 || kind == Kind.F32 ? 4 : 8;
        }
    }

    private final List<Arg> args = new ArrayList<>();

    /** A device pointer ({@code const float*}, {@code u8*}, ...: a {@code CUdeviceptr}). */
    public KernelArgs ptr(long devicePointer) {
        args.add(new Arg(Kind.PTR, devicePointer));
        return this;
    }

    /** {@code int}. */
    public KernelArgs i32(int value) {
        args.add(new Arg(Kind.I32, value));
        return this;
    }

    /** {@code long long}. */
    public KernelArgs i64(long value) {
        args.add(new Arg(Kind.I64, value));
        return this;
    }

    /** {@code float}. */
    public KernelArgs f32(float value) {
        args.add(new Arg(Kind.F32, Float.floatToRawIntBits(value)));
        return this;
    }

    public int count() {
        return args.size();
    }

    /** One letter per parameter in order: {@code i} int, {@code l} long long, {@code f} float, {@code p} pointer. */
    public String kinds() {
        StringBuilder s = new StringBuilder();
        for (Arg a : args) {
            s.append(switch (a.kind) {
                case I32 -> 'i';
                case I64 -> 'l';
                case F32 -> 'f';
                case PTR -> 'p';
            });
        }
        return s.toString();
    }

    /** Byte offsets of each value in the value segment (aligned to the value's size). */
    public long[] valueOffsets() {
        long[] offsets = new long[args.size()];
        long at = 0;
        for (int i = 0; i < args.size(); i++) {
            int size = args.get(i).size();
            at = (at + size - 1) / size * size;
            offsets[i] = at;
            at += size;
        }
        return offsets;
    }

    /** Allocates the values and the {@code void**} array in {@code arena}; returns the array. */
    public MemorySegment build(Arena arena) {
        long[] offsets = valueOffsets();
        long valueBytes = args.isEmpty() ? 8 : offsets[offsets.length - 1] + args.get(args.size() - 1).size();
        MemorySegment values = arena.allocate(valueBytes, 8);
        MemorySegment pointers = arena.allocate(ValueLayout.ADDRESS, Math.max(1, args.size()));
        for (int i = 0; i < args.size(); i++) {
            Arg a = args.get(i);
            switch (a.kind) {
                case I32, F32 -> values.set(ValueLayout.JAVA_INT, offsets[i], (int) a.bits);
                case I64, PTR -> values.set(ValueLayout.JAVA_LONG, offsets[i], a.bits);
            }
            pointers.setAtIndex(ValueLayout.ADDRESS, i, values.asSlice(offsets[i]));
        }
        return pointers;
    }
}
