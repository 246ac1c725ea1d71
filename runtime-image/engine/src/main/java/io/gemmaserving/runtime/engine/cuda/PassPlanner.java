package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine.Logits;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits one {@link io.gemmaserving.runtime.engine.Engine#step} into device passes that fit the engine's fixed
 * buffers: at most {@code maxTokens} tokens and {@code maxSeqs} sequences per pass (the workspace and the per-pass
 * tables), at most {@code maxChunk} tokens of one sequence per pass (a sliding-window ring holds the window plus one
 * chunk, see {@link DeviceMemoryPlan#ringSlots}), at most {@code maxLogitRows} logit rows per pass (the logits
 * buffer is [maxLogitRows x vocab]). A sequence appears at most once per pass and its pieces run in order, so pass
 * k+1 sees the keys pass k stored. Decode steps (one token each) of up to maxSeqs sequences make one pass.
 */
public final class PassPlanner {

    /** What the planner needs of a step: its first position, token count and which logits it wants. */
    public record StepShape(int position, int tokens, Logits logits) {
    }

    /**
     * Tokens {@code [tokenFrom, tokenFrom + count)} of step {@code step}, at positions {@code position ..};
     * {@code logitFrom}: the first of these tokens whose logits are wanted ({@code count} when none), the rest of the
     * piece from there on wants them too.
     */
    public record Piece(int step, int position, int tokenFrom, int count, int logitFrom) {
        public int logitRows() {
            return count - logitFrom;
        }
    }

    /** One device pass: pieces of distinct steps. */
    public record Pass(List<Piece> pieces) {
        public int tokens() {
            return pieces.stream().mapToInt(Piece::count).sum();
        }

        public int logitRows() {
            return pieces.stream().mapToInt(Piece::logitRows).sum();
        }

        /** Every piece is one token: a decode pass, the shape CUDA graphs replay. */
        public boolean decodeOnly() {
            return pieces.stream().allMatch(p -> p.count() == 1);
        }
    }

    /** Per-pass limits. */
    public record Limits(int maxTokens, int maxSeqs, int maxChunk, int maxLogitRows) {
        public Limits {
            if (maxTokens < 1 || maxSeqs < 1 || maxChunk < 1 || maxLogitRows < 1) {
                throw new IllegalArgumentException("pass limits must be positive: tokens=" + maxTokens + " seqs="
                        + maxSeqs + " chunk=" + maxChunk + " logitRows=" + maxLogitRows);
            }
        }
    }

    private PassPlanner() {
    }

    public static List<Pass> plan(List<StepShape> steps, Limits limits) {
        int n = steps.size();
        int[] done = new int[n];
        List<Pass> passes = new ArrayList<>();
        boolean remaining = true;
        while (remaining) {
            List<Piece> pieces = new ArrayList<>();
            int tokens = 0;
            int logitRows = 0;
            for (int s = 0; s < n && pieces.size() < limits.maxSeqs() && tokens < limits.maxTokens(); s++) {
                StepShape st = steps.get(s);
                int left = st.tokens() - done[s];
                if (left == 0) {
                    continue;
                }
                int take = Math.min(left, Math.min(limits.maxChunk(), limits.maxTokens() - tokens));
                int logitRoom = limits.maxLogitRows() - logitRows;
                int logitFrom;
                switch (st.logits()) {
                    case ALL -> {
                        take = Math.min(take, logitRoom);
                        logitFrom = 0;
                    }
                    case LAST -> {
                        if (take == left && logitRoom == 0) {
                            take--; // the last token's logits go to a later pass
                        }
                        logitFrom = take == left ? take - 1 : take;
                    }
                    default -> logitFrom = take;
                }
                if (take <= 0) {
                    continue;
                }
                Piece p = new Piece(s, st.position() + done[s], done[s], take, logitFrom);
                pieces.add(p);
                tokens += take;
                logitRows += p.logitRows();
                done[s] += take;
            }
            if (pieces.isEmpty()) {
                break;
            }
            passes.add(new Pass(List.copyOf(pieces)));
            remaining = false;
            for (int s = 0; s < n; s++) {
                remaining |= done[s] < steps.get(s).tokens();
            }
        }
        return passes;
    }
}
