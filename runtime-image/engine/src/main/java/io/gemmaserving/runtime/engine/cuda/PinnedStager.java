package io.gemmaserving.runtime.engine.cuda;

import java.lang.foreign.MemorySegment;

/**
 * Uploads host bytes (a memory-mapped GGUF: pageable memory) to the device through a small set of page-locked
 * ("pinned") buffers, so copies run as asynchronous DMA while the CPU fills the next buffer: fill buffer 0, start
 * its copy, fill buffer 1, start its copy, wait for buffer 0's copy, refill it, ... Pageable memory cannot be the
 * source of an asynchronous copy, and pinning a whole multi-GB file is not an option.
 *
 * <p>The source is a list of byte ranges (a weight shard: one range, or one per row for an input split) that land
 * back to back at the destination. The copy engine is pluggable, so the chunking and ordering are tested without a GPU.
 */
public final class PinnedStager {

    /** What actually moves bytes: the CUDA driver, or a test double. */
    public interface Copier {
        /**
         * Starts copying {@code bytes} bytes from the start of pinned buffer {@code buffer} ({@code src} is that
         * buffer, sliced to the bytes) to device address {@code deviceDst}. May return before the copy is done.
         */
        void copyAsync(int buffer, MemorySegment src, long deviceDst, long bytes);

        /** Blocks until the last copy started from {@code buffer} is done, so it may be overwritten. */
        void await(int buffer);
    }

    private final MemorySegment[] buffers;
    private final Copier copier;
    private final boolean[] inFlight;
    private long copies;

    /** @param buffers pinned buffers of equal size (two give double buffering) */
    public PinnedStager(MemorySegment[] buffers, Copier copier) {
        if (buffers.length == 0) {
            throw new IllegalArgumentException("at least one pinned buffer is needed");
        }
        for (MemorySegment b : buffers) {
            if (b.byteSize() != buffers[0].byteSize() || b.byteSize() == 0) {
                throw new IllegalArgumentException("pinned buffers must be non-empty and of equal size");
            }
        }
        this.buffers = buffers;
        this.copier = copier;
        this.inFlight = new boolean[buffers.length];
    }

    /** Chunk size: the size of one pinned buffer. */
    public long chunkBytes() {
        return buffers[0].byteSize();
    }

    /** Copies started so far. */
    public long copies() {
        return copies;
    }

    /**
     * Copies {@code source} ranges {offset0, length0, offset1, length1, ...} to consecutive device addresses from
     * {@code deviceDst}; returns when every copy is done. Returns the number of bytes copied.
     */
    public long upload(MemorySegment source, long[] ranges, long deviceDst) {
        if (ranges.length % 2 != 0) {
            throw new IllegalArgumentException("ranges must be offset/length pairs");
        }
        int current = 0;
        long filled = 0;      // bytes in the current buffer
        long written = 0;     // bytes handed to copies so far (device offset of the current buffer's start)
        long chunk = chunkBytes();
        acquire(current);
        for (int i = 0; i < ranges.length; i += 2) {
            long off = ranges[i];
            long len = ranges[i + 1];
            if (off < 0 || len < 0 || off + len > source.byteSize()) {
                throw new IllegalArgumentException("range [" + off + ", " + (off + len) + ") is outside the "
                        + source.byteSize() + "-byte source");
            }
            while (len > 0) {
                long n = Math.min(len, chunk - filled);
                MemorySegment.copy(source, off, buffers[current], filled, n);
                filled += n;
                off += n;
                len -= n;
                if (filled == chunk) {
                    flush(current, filled, deviceDst + written);
                    written += filled;
                    filled = 0;
                    current = (current + 1) % buffers.length;
                    acquire(current);
                }
            }
        }
        if (filled > 0) {
            flush(current, filled, deviceDst + written);
            written += filled;
        }
        for (int b = 0; b < buffers.length; b++) {
            acquire(b);
        }
        return written;
    }

    private void flush(int buffer, long bytes, long dst) {
        copier.copyAsync(buffer, buffers[buffer].asSlice(0, bytes), dst, bytes);
        inFlight[buffer] = true;
        copies++;
    }

    private void acquire(int buffer) {
        if (inFlight[buffer]) {
            copier.await(buffer);
            inFlight[buffer] = false;
        }
    }
}
