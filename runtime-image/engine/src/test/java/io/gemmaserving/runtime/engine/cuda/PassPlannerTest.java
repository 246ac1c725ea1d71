package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine.Logits;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.Limits;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.Pass;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.Piece;
import io.gemmaserving.runtime.engine.cuda.PassPlanner.StepShape;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How one engine step becomes device passes that fit the fixed buffers. */
@Tag("unit")
class PassPlannerTest {

    @Test
    void decodeStepsOfManySequencesAreOnePass() {
        List<StepShape> steps = new ArrayList<>();
        for (int s = 0; s < 16; s++) {
            steps.add(new StepShape(100 + s, 1, Logits.LAST));
        }
        List<Pass> passes = PassPlanner.plan(steps, new Limits(512, 64, 512, 64));
        assertEquals(1, passes.size());
        Pass p = passes.get(0);
        assertEquals(16, p.tokens());
        assertEquals(16, p.logitRows());
        assertTrue(p.decodeOnly());
        assertEquals(new Piece(3, 103, 0, 1, 0), p.pieces().get(3));
    }

    @Test
    void aLongPromptIsCutIntoChunksInOrderAndOnlyItsLastTokenGetsLogits() {
        List<Pass> passes = PassPlanner.plan(List.of(new StepShape(10, 1000, Logits.LAST)), new Limits(512, 64, 300, 64));
        assertEquals(List.of(
                new Pass(List.of(new Piece(0, 10, 0, 300, 300))),
                new Pass(List.of(new Piece(0, 310, 300, 300, 300))),
                new Pass(List.of(new Piece(0, 610, 600, 300, 300))),
                new Pass(List.of(new Piece(0, 910, 900, 100, 99)))), passes);
        assertTrue(passes.stream().noneMatch(Pass::decodeOnly));
    }

    @Test
    void passesRespectTheTokenSequenceAndLogitLimits() {
        Random rnd = new Random(11);
        Limits lim = new Limits(64, 5, 24, 8);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(12);
            List<StepShape> steps = new ArrayList<>();
            for (int s = 0; s < n; s++) {
                Logits l = Logits.values()[rnd.nextInt(3)];
                steps.add(new StepShape(rnd.nextInt(50), 1 + rnd.nextInt(rnd.nextBoolean() ? 3 : 100), l));
            }
            List<Pass> passes = PassPlanner.plan(steps, lim);
            int[] next = new int[n];
            int[] logits = new int[n];
            for (Pass p : passes) {
                assertTrue(p.tokens() <= lim.maxTokens() && p.pieces().size() <= lim.maxSeqs()
                        && p.logitRows() <= lim.maxLogitRows(), p.toString());
                assertEquals(p.pieces().size(), p.pieces().stream().mapToInt(Piece::step).distinct().count(),
                        "a sequence at most once per pass");
                for (Piece pc : p.pieces()) {
                    assertTrue(pc.count() <= lim.maxChunk());
                    assertEquals(next[pc.step()], pc.tokenFrom(), "pieces in order");
                    assertEquals(steps.get(pc.step()).position() + pc.tokenFrom(), pc.position());
                    next[pc.step()] += pc.count();
                    logits[pc.step()] += pc.logitRows();
                }
            }
            for (int s = 0; s < n; s++) {
                StepShape st = steps.get(s);
                assertEquals(st.tokens(), next[s], "every token planned once");
                int want = switch (st.logits()) {
                    case NONE -> 0;
                    case LAST -> 1;
                    case ALL -> st.tokens();
                };
                assertEquals(want, logits[s], "logit rows of step " + s);
            }
        }
    }

    @Test
    void aLastTokenWaitsForTheNextPassWhenTheLogitRowsAreFull() {
        // two all-logit rows fill the pass's logits; the LAST step's final token goes to the next pass
        List<Pass> passes = PassPlanner.plan(List.of(new StepShape(0, 2, Logits.ALL), new StepShape(0, 3, Logits.LAST)),
                new Limits(64, 8, 64, 2));
        assertEquals(2, passes.size());
        assertEquals(List.of(new Piece(0, 0, 0, 2, 0), new Piece(1, 0, 0, 2, 2)), passes.get(0).pieces());
        assertEquals(List.of(new Piece(1, 2, 2, 1, 0)), passes.get(1).pieces());
    }

    @Test
    void limitsMustBePositive() {
        assertThrows(IllegalArgumentException.class, () -> new Limits(0, 1, 1, 1));
    }
}
