package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** What the scheduler refuses to run with, and the stop list and seeds it derives. */
@Tag("unit")
class GenerationParamsTest {

    private static GenerationParams of(int maxTokens, double temperature, double topP, int topLogprobs,
                                       double presence, double frequency) {
        return new GenerationParams(maxTokens, temperature, topP, 1L, List.of(), false, topLogprobs, presence,
                frequency);
    }

    @Test
    void valuesTheSchedulerCannotRunWithAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> of(0, 0, 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, -0.1, 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, Double.NaN, 1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, 1, 0, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, 1, 1.01, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, 1, 1, 21, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, 1, 1, -1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, 1, 1, 0, 2.1, 0));
        assertThrows(IllegalArgumentException.class, () -> of(1, 1, 1, 0, 0, -3));
        GenerationParams edge = of(1, 0, 1, 20, -2, 2);
        assertEquals(-2, edge.presencePenalty());
        assertEquals(20, edge.topLogprobs());
    }

    @Test
    void emptyStopStringsAreDroppedAndTheListIsCopied() {
        List<String> stop = new ArrayList<>(List.of("a", "", "\n\n"));
        GenerationParams p = new GenerationParams(8, 0, 1, null, stop, false, 0);
        stop.add("later");
        assertEquals(List.of("a", "\n\n"), p.stop());
        assertEquals(List.of(), new GenerationParams(8, 0, 1, null, null, false, 0).stop());
    }

    @Test
    void choiceZeroKeepsTheSeedAndTheOthersDiffer() {
        assertEquals(42L, GenerationParams.choiceSeed(42, 0));
        long[] seeds = {GenerationParams.choiceSeed(42, 0), GenerationParams.choiceSeed(42, 1),
            GenerationParams.choiceSeed(42, 2), GenerationParams.choiceSeed(43, 1)};
        assertEquals(seeds.length, Arrays.stream(seeds).distinct().count(), Arrays.toString(seeds));
        assertNotEquals(42L, of(1, 1, 1, 0, 0, 0).withSeed(7L).seed());
    }
}
