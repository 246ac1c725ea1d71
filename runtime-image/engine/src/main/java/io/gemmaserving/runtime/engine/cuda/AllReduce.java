package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.Driver;
import io.gemmaserving.runtime.engine.cuda.bindings.Nccl;
import java.lang.foreign.MemorySegment;
import java.util.function.IntToLongFunction;

/**
 * The in-place sum over ranks that follows each row-parallel projection (attention output, FFN down): afterwards
 * every rank holds the full sum in its own buffer. Only queues work on the ranks' streams; nothing waits on the host.
 */
public interface AllReduce extends AutoCloseable {

    /** {@code buffer(r)[0 .. count)} = sum over ranks, f32, on every rank. */
    void sum(Rank[] ranks, IntToLongFunction buffer, long count);

    String describe();

    @Override
    void close();

    /** NCCL, one communicator per GPU (ranks on distinct devices only). */
    final class NcclAllReduce implements AllReduce {
        private final Driver cu;
        private final Nccl nccl;
        private final MemorySegment[] comms;

        NcclAllReduce(Driver cu, Nccl nccl, int[] ordinals) {
            this.cu = cu;
            this.nccl = nccl;
            this.comms = nccl.commInitAll(ordinals);
        }

        @Override
        public void sum(Rank[] ranks, IntToLongFunction buffer, long count) {
            nccl.groupStart();
            for (int r = 0; r < ranks.length; r++) {
                cu.ctxSetCurrent(ranks[r].ctx());
                nccl.allReduceSumInPlace(buffer.applyAsLong(r), count, comms[r], ranks[r].stream());
            }
            nccl.groupEnd();
        }

        @Override
        public String describe() {
            return "NCCL all-reduce over " + comms.length + " GPUs";
        }

        @Override
        public void close() {
            for (MemorySegment c : comms) {
                nccl.commDestroy(c);
            }
        }
    }

    /**
     * Without NCCL (or with several ranks on one GPU): rank 0 gathers the other ranks' partials by peer (or
     * device-to-device) copies into its gather buffer, adds them with the {@code add_inplace} kernel, and every other
     * rank copies the sum back. Stream order plus events: each rank's partial is complete before rank 0 reads it,
     * rank 0's sum is complete before the others copy it, and rank 0 waits for those copies before it may overwrite
     * its buffer again. Moves 2 (tp - 1) x count floats through rank 0: fine for 2 ranks, a ring would scale better.
     */
    final class PeerAllReduce implements AllReduce {
        private final Driver cu;

        PeerAllReduce(Driver cu) {
            this.cu = cu;
        }

        @Override
        public void sum(Rank[] ranks, IntToLongFunction buffer, long count) {
            long bytes = 4 * count;
            Rank root = ranks[0];
            long rootBuf = buffer.applyAsLong(0);
            for (int r = 1; r < ranks.length; r++) {
                cu.ctxSetCurrent(ranks[r].ctx());
                cu.eventRecord(ranks[r].partialDone(), ranks[r].stream());
            }
            cu.ctxSetCurrent(root.ctx());
            for (int r = 1; r < ranks.length; r++) {
                long slot = root.workspace().gather() + (r - 1) * bytes;
                cu.streamWaitEvent(root.stream(), ranks[r].partialDone());
                copy(root, slot, ranks[r], buffer.applyAsLong(r), bytes, root.stream());
                root.kernels().addInPlace(root.stream(), rootBuf, slot, count);
            }
            cu.eventRecord(root.partialDone(), root.stream());
            for (int r = 1; r < ranks.length; r++) {
                cu.ctxSetCurrent(ranks[r].ctx());
                cu.streamWaitEvent(ranks[r].stream(), root.partialDone());
                copy(ranks[r], buffer.applyAsLong(r), root, rootBuf, bytes, ranks[r].stream());
                cu.eventRecord(ranks[r].copyDone(), ranks[r].stream());
            }
            cu.ctxSetCurrent(root.ctx());
            for (int r = 1; r < ranks.length; r++) {
                cu.streamWaitEvent(root.stream(), ranks[r].copyDone());
            }
        }

        private void copy(Rank dst, long dstPtr, Rank src, long srcPtr, long bytes, MemorySegment stream) {
            if (dst.ordinal() == src.ordinal()) {
                cu.memcpyDtoDAsync(dstPtr, srcPtr, bytes, stream);
            } else {
                cu.memcpyPeerAsync(dstPtr, dst.ctx(), srcPtr, src.ctx(), bytes, stream);
            }
        }

        @Override
        public String describe() {
            return "peer-copy all-reduce";
        }

        @Override
        public void close() {
        }
    }
}
