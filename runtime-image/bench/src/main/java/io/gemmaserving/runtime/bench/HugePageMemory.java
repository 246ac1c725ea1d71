package io.gemmaserving.runtime.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * Anonymous memory with 2 MiB pages, for the bandwidth probe ({@link MemoryBandwidth}): a mapping aligned to 2 MiB with
 * {@code madvise(MADV_HUGEPAGE)} set before the first write, so that Linux backs it with 2 MiB pages when transparent huge pages are in
 * {@code madvise} or {@code always} mode (a file mapping gets 4 KiB page-cache pages, and a decode step walks
 * every weight: one TLB entry per 2 MiB instead of per 4 KiB). Where {@code mmap} is not reachable (not Linux, no
 * native access) it falls back to the arena's own memory.
 */
final class HugePageMemory {

    static final long HUGE_PAGE = 2L << 20;
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final int MADV_HUGEPAGE = 14;

    private static final MethodHandle MMAP;
    private static final MethodHandle MADVISE;
    private static final MethodHandle MUNMAP;

    static {
        MethodHandle mmap = null, madvise = null, munmap = null;
        try {
            if (System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                        FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
            }
        } catch (RuntimeException e) { // IllegalCallerException without native access: heap-less fallback below
            mmap = null;
        }
        MMAP = mmap;
        MADVISE = madvise;
        MUNMAP = munmap;
    }

    private HugePageMemory() {
    }

    /**
     * {@code bytes} of zeroed memory, 2 MiB-aligned and huge-page advised where the platform allows; unmapped when
     * {@code arena} closes.
     */
    static MemorySegment allocate(long bytes, Arena arena) {
        if (MMAP != null) {
            long len = (bytes + 2 * HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE; // room to align the start
            try {
                MemorySegment base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, len, PROT_READ_WRITE,
                        MAP_PRIVATE_ANONYMOUS, -1, 0L);
                long addr = base.address();
                if (addr != -1L && addr != 0L) {
                    long aligned = (addr + HUGE_PAGE - 1) & -HUGE_PAGE;
                    int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(aligned), len - (aligned - addr),
                            MADV_HUGEPAGE); // advice only: without THP the pages are 4 KiB, which still works
                    MethodHandle munmap = MUNMAP;
                    return MemorySegment.ofAddress(aligned).reinterpret(bytes, arena, s -> {
                        try {
                            int rc = (int) munmap.invokeExact(MemorySegment.ofAddress(addr), len);
                        } catch (Throwable t) {
                            // nothing to do in a cleaner
                        }
                    });
                }
            } catch (Throwable t) {
                // fall through to the arena
            }
        }
        return arena.allocate(bytes, 64);
    }
}
