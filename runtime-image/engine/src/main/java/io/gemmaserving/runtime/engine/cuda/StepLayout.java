package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine.Logits;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The per-pass arrays the kernels read, packed into one buffer that is uploaded with one copy per pass and rank
 * (a step's only host-to-device copy: ids, positions and KV addresses in; logits come back). Regions, each 256-byte aligned,
 * sized for the engine's limits so their device addresses never change (CUDA graphs bake them in):
 * <pre>
 *   tokens   int [maxTokens]            token id of pass row t
 *   pos      int [maxTokens]            its position in its sequence
 *   seq      int [maxTokens]            its sequence's index in this pass (the tables' column)
 *   logit    int [maxLogitRows]         pass rows whose logits are wanted, in result order
 *   cap      int [layers x maxSeqs]     KV slots of sequence s's cache in layer l
 *   kPtr     i64 [layers x maxSeqs]     device address of that cache's keys ([cap][kvWidth] f32)
 *   vPtr     i64 [layers x maxSeqs]     and values
 * </pre>
 */
public final class StepLayout {

    /** Where sequence {@code step}'s cache of layer {@code layer} lives on one rank. */
    public interface KvSlots {
        long keys(int step, int layer);

        long values(int step, int layer);

        int slots(int step, int layer);
    }

    /** Byte offsets of the regions; {@link #bytes()} is the buffer's size. */
    public record Offsets(int maxTokens, int maxSeqs, int maxLogitRows, int layers, long tokens, long pos, long seq,
                          long logit, long cap, long kPtr, long vPtr, long bytes) {

        public static Offsets of(int maxTokens, int maxSeqs, int maxLogitRows, int layers) {
            long at = 0;
            long tokens = at;
            at = DeviceMemoryPlan.align(at + 4L * maxTokens);
            long pos = at;
            at = DeviceMemoryPlan.align(at + 4L * maxTokens);
            long seq = at;
            at = DeviceMemoryPlan.align(at + 4L * maxTokens);
            long logit = at;
            at = DeviceMemoryPlan.align(at + 4L * maxLogitRows);
            long cap = at;
            at = DeviceMemoryPlan.align(at + 4L * layers * maxSeqs);
            long kPtr = at;
            at = DeviceMemoryPlan.align(at + 8L * layers * maxSeqs);
            long vPtr = at;
            at = DeviceMemoryPlan.align(at + 8L * layers * maxSeqs);
            return new Offsets(maxTokens, maxSeqs, maxLogitRows, layers, tokens, pos, seq, logit, cap, kPtr, vPtr, at);
        }

        /** Offset of layer {@code layer}'s row of the {@code cap} table (its kPtr / vPtr rows: same index). */
        public long capRow(int layer) {
            return cap + 4L * layer * maxSeqs;
        }

        public long kPtrRow(int layer) {
            return kPtr + 8L * layer * maxSeqs;
        }

        public long vPtrRow(int layer) {
            return vPtr + 8L * layer * maxSeqs;
        }
    }

    /** Where logit row {@code i} of a pass goes: row {@code row} of step {@code step}'s result. */
    public record LogitTarget(int step, int row) {
    }

    private StepLayout() {
    }

    /** The destinations of a pass's logit rows, in the order {@link #fill} writes them. */
    public static LogitTarget[] logitTargets(PassPlanner.Pass pass, List<Logits> wanted) {
        LogitTarget[] out = new LogitTarget[pass.logitRows()];
        int i = 0;
        for (PassPlanner.Piece p : pass.pieces()) {
            for (int t = p.logitFrom(); t < p.count(); t++) {
                int row = wanted.get(p.step()) == Logits.ALL ? p.tokenFrom() + t : 0;
                out[i++] = new LogitTarget(p.step(), row);
            }
        }
        return out;
    }

    /**
     * Writes pass {@code pass} into {@code host} (at least {@code o.bytes()} long): rows in piece order, and for each
     * layer the KV tables of the pieces' sequences on this rank.
     *
     * @param tokens per step, its token ids (the piece reads {@code [tokenFrom, tokenFrom + count)})
     */
    public static void fill(MemorySegment host, Offsets o, PassPlanner.Pass pass, List<int[]> tokens, KvSlots kv) {
        if (pass.tokens() > o.maxTokens() || pass.pieces().size() > o.maxSeqs() || pass.logitRows() > o.maxLogitRows()) {
            throw new IllegalArgumentException("pass of " + pass.tokens() + " tokens, " + pass.pieces().size()
                    + " sequences, " + pass.logitRows() + " logit rows exceeds the layout's " + o.maxTokens() + " / "
                    + o.maxSeqs() + " / " + o.maxLogitRows());
        }
        int row = 0;
        int logit = 0;
        List<PassPlanner.Piece> pieces = pass.pieces();
        for (int s = 0; s < pieces.size(); s++) {
            PassPlanner.Piece p = pieces.get(s);
            int[] ids = tokens.get(p.step());
            for (int t = 0; t < p.count(); t++, row++) {
                host.setAtIndex(ValueLayout.JAVA_INT, o.tokens() / 4 + row, ids[p.tokenFrom() + t]);
                host.setAtIndex(ValueLayout.JAVA_INT, o.pos() / 4 + row, p.position() + t);
                host.setAtIndex(ValueLayout.JAVA_INT, o.seq() / 4 + row, s);
                if (t >= p.logitFrom()) {
                    host.setAtIndex(ValueLayout.JAVA_INT, o.logit() / 4 + logit++, row);
                }
            }
            for (int l = 0; l < o.layers(); l++) {
                host.setAtIndex(ValueLayout.JAVA_INT, o.capRow(l) / 4 + s, kv.slots(p.step(), l));
                host.setAtIndex(ValueLayout.JAVA_LONG, o.kPtrRow(l) / 8 + s, kv.keys(p.step(), l));
                host.setAtIndex(ValueLayout.JAVA_LONG, o.vPtrRow(l) / 8 + s, kv.values(p.step(), l));
            }
        }
    }
}
