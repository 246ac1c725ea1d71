package io.gemmaserving.runtime.engine.cuda;

import java.util.HashMap;
import java.util.Map;

/**
 * When a pass runs from a CUDA graph. A graph replays fixed kernels with fixed arguments, so it fits a pass whose
 * shape alone fixes every launch: a decode pass (one token per sequence) of a given token count and logit-row count,
 * with the kernels reading everything that changes (ids, positions, KV addresses) from the {@link StepLayout}
 * buffer. Such a pass runs eagerly the first time its shape is seen (lazy module loading and first-launch work stay
 * out of the recording), is captured the second time, and is replayed from then on. Up to {@code maxGraphs} shapes
 * are kept; other passes (prefill chunks, mixed passes, more than {@code maxTokens} tokens) run eagerly.
 *
 * <p>Graphs are off with tensor parallelism: the all-reduce crosses streams (and NCCL's own capture rules), and a
 * capture there is not verified.
 */
public final class GraphPlan {

    /** What to do with a pass. */
    public enum Action { EAGER, CAPTURE, REPLAY }

    /** The shape that identifies a graph: tokens (= sequences) and logit rows. */
    public record Shape(int tokens, int logitRows) {
    }

    private final boolean enabled;
    private final int maxTokens;
    private final int maxGraphs;
    private final Map<Shape, Integer> seen = new HashMap<>();
    private final Map<Shape, Boolean> captured = new HashMap<>();

    /**
     * @param enabled   graphs available (driver API present) and wanted
     * @param maxTokens largest decode batch captured; must keep every projection on the matvec kernels (no cuBLAS)
     * @param maxGraphs how many shapes to keep
     */
    public GraphPlan(boolean enabled, int maxTokens, int maxGraphs) {
        this.enabled = enabled;
        this.maxTokens = maxTokens;
        this.maxGraphs = maxGraphs;
    }

    /** Decides for {@code pass} and records that it was seen. */
    public Action decide(PassPlanner.Pass pass) {
        if (!enabled || !pass.decodeOnly() || pass.tokens() > maxTokens) {
            return Action.EAGER;
        }
        Shape s = new Shape(pass.tokens(), pass.logitRows());
        Boolean ok = captured.get(s);
        if (ok != null) {
            return ok ? Action.REPLAY : Action.EAGER;
        }
        int n = seen.merge(s, 1, Integer::sum);
        if (n >= 2 && graphs() < maxGraphs) {
            return Action.CAPTURE;
        }
        return Action.EAGER;
    }

    /** The capture of {@code pass}'s shape succeeded: replay it from now on. */
    public void captured(PassPlanner.Pass pass) {
        captured.put(new Shape(pass.tokens(), pass.logitRows()), Boolean.TRUE);
    }

    /** The capture of {@code pass}'s shape failed: run that shape eagerly from now on. */
    public void failed(PassPlanner.Pass pass) {
        captured.put(new Shape(pass.tokens(), pass.logitRows()), Boolean.FALSE);
    }

    /** Graphs captured and replayable. */
    public int graphs() {
        return (int) captured.values().stream().filter(b -> b).count();
    }
}
