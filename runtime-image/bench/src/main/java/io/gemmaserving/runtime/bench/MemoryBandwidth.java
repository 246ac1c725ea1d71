package io.gemmaserving.runtime.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CyclicBarrier;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The read bandwidth decode can hope for, measured: {@code threads} threads stream disjoint slices of one buffer
 * larger than the caches (anonymous memory with 2 MiB pages, as the repacked weights) with vector loads and sum
 * them; the best of a few passes. Decode reads every weight once per token, so its ceiling in tokens/s is this
 * bandwidth over the bytes it reads per token.
 */
final class MemoryBandwidth {

    private static final VectorSpecies<Long> V = LongVector.SPECIES_PREFERRED;

    private MemoryBandwidth() {
    }

    /** Bytes per second; {@code passes} timed passes after one untimed. */
    static double measure(int threads, int passes) throws Exception {
        long bytes = bufferBytes();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = HugePageMemory.allocate(bytes, arena);
            for (long off = 0; off < bytes; off += 4096) {
                buf.set(ValueLayout.JAVA_LONG, off, off); // touch every page before timing
            }
            long slice = bytes / threads / 4096 * 4096;
            long[] sinks = new long[threads];
            CyclicBarrier start = new CyclicBarrier(threads + 1);
            CyclicBarrier end = new CyclicBarrier(threads + 1);
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                int id = t;
                ts[t] = Thread.ofPlatform().daemon().name("bandwidth-" + t).start(() -> {
                    try {
                        for (int p = 0; p <= passes; p++) {
                            start.await();
                            sinks[id] += sum(buf, id * slice, slice);
                            end.await();
                        }
                    } catch (Exception e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            double best = Double.MAX_VALUE;
            for (int p = 0; p <= passes; p++) {
                start.await();
                long t0 = System.nanoTime();
                end.await();
                double s = (System.nanoTime() - t0) / 1e9;
                if (p > 0) {
                    best = Math.min(best, s);
                }
            }
            for (Thread t : ts) {
                t.join();
            }
            return slice * (double) threads / best;
        }
    }

    /** Twice the last-level cache (sysfs), at least 1 GiB. */
    static long bufferBytes() {
        long llc = 0;
        for (int i = 0; i < 8; i++) {
            Path size = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + i + "/size");
            try {
                String v = Files.readString(size).trim();
                long n = Long.parseLong(v.replaceAll("[^0-9]", ""));
                n *= v.endsWith("M") ? 1L << 20 : v.endsWith("K") ? 1L << 10 : 1;
                llc = Math.max(llc, n);
            } catch (Exception e) {
                break;
            }
        }
        return Math.max(1L << 30, 2 * llc) / 4096 * 4096;
    }

    private static long sum(MemorySegment s, long from, long len) {
        LongVector a0 = LongVector.zero(V), a1 = a0, a2 = a0, a3 = a0;
        int step = V.vectorByteSize();
        long off = from, end = from + len - 4L * step;
        for (; off <= end; off += 4L * step) {
            a0 = a0.add(LongVector.fromMemorySegment(V, s, off, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromMemorySegment(V, s, off + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(LongVector.fromMemorySegment(V, s, off + 2L * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(LongVector.fromMemorySegment(V, s, off + 3L * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
    }
}
