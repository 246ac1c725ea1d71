package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.GraphPlan.Action;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.Pass;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.Piece;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which passes run from CUDA graphs: decode shapes, eager once, captured the second time, replayed after. */
@Tag("unit")
class GraphPlanTest {

    static Pass decode(int seqs) {
        List<Piece> p = new ArrayList<>();
        for (int s = 0; s < seqs; s++) {
            p.add(new Piece(s, 10 + s, 0, 1, 0));
        }
        return new Pass(p);
    }

    @Test
    void aDecodeShapeRunsEagerThenIsCapturedThenReplayed() {
        GraphPlan g = new GraphPlan(true, 16, 8);
        assertEquals(Action.EAGER, g.decide(decode(4)));
        assertEquals(Action.CAPTURE, g.decide(decode(4)));
        g.captured(decode(4));
        assertEquals(Action.REPLAY, g.decide(decode(4)));
        assertEquals(Action.REPLAY, g.decide(decode(4)));
        assertEquals(Action.EAGER, g.decide(decode(5)), "another shape starts over");
        assertEquals(1, g.graphs());
    }

    @Test
    void prefillLargeAndDisabledPassesStayEager() {
        GraphPlan g = new GraphPlan(true, 16, 8);
        Pass prefill = new Pass(List.of(new Piece(0, 0, 0, 7, 6)));
        for (int i = 0; i < 3; i++) {
            assertEquals(Action.EAGER, g.decide(prefill));
            assertEquals(Action.EAGER, g.decide(decode(17)), "more rows than the matvec kernels take");
        }
        GraphPlan off = new GraphPlan(false, 16, 8);
        for (int i = 0; i < 3; i++) {
            assertEquals(Action.EAGER, off.decide(decode(1)));
        }
    }

    @Test
    void aFailedCaptureIsNotRetriedAndTheGraphCountIsCapped() {
        GraphPlan g = new GraphPlan(true, 16, 2);
        g.decide(decode(1));
        assertEquals(Action.CAPTURE, g.decide(decode(1)));
        g.failed(decode(1));
        assertEquals(Action.EAGER, g.decide(decode(1)));
        for (int n = 2; n <= 3; n++) {
            g.decide(decode(n));
            g.decide(decode(n));
            g.captured(decode(n));
        }
        g.decide(decode(4));
        assertEquals(Action.EAGER, g.decide(decode(4)), "two graphs kept at most");
        assertEquals(2, g.graphs());
    }

    @Test
    void logitRowsArePartOfTheShape() {
        GraphPlan g = new GraphPlan(true, 16, 8);
        Pass noLogits = new Pass(List.of(new Piece(0, 3, 0, 1, 1)));
        g.decide(decode(1));
        assertEquals(Action.EAGER, g.decide(noLogits));
        assertEquals(Action.CAPTURE, g.decide(decode(1)));
    }
}
