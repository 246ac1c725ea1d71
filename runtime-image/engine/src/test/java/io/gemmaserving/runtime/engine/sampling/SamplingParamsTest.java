package io.gemmaserving.runtime.engine.sampling;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplingParamsTest {

    static final SamplingParams OK = SamplingParams.defaults();

    static void rejects(String parameter, Executable build) {
        var e = assertThrows(InvalidSamplingParameterException.class, build);
        assertEquals(parameter, e.parameter());
        assertTrue(e.getMessage().startsWith(parameter + " "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void outOfRangeValuesNameTheirParameter() {
        rejects("temperature", () -> OK.withTemperature(-0.1));
        rejects("temperature", () -> OK.withTemperature(2.5));
        rejects("temperature", () -> OK.withTemperature(Double.NaN));
        rejects("top_k", () -> OK.withTopK(-1));
        rejects("top_p", () -> OK.withTopP(0));
        rejects("top_p", () -> OK.withTopP(1.01));
        rejects("min_p", () -> OK.withMinP(-0.01));
        rejects("min_p", () -> OK.withMinP(1.5));
        rejects("max_tokens", () -> OK.withMaxTokens(0));
        rejects("stop", () -> OK.withStop(List.of("a", "")));
        rejects("stop", () -> OK.withStop(Collections.nCopies(17, "x")));
        rejects("repetition_penalty", () -> OK.withPenalties(0, 0, 0));
        rejects("presence_penalty", () -> OK.withPenalties(1, 2.1, 0));
        rejects("frequency_penalty", () -> OK.withPenalties(1, 0, -3));
        rejects("top_logprobs", () -> OK.withTopLogprobs(21));
    }

    @Test
    void validValuesPass() {
        SamplingParams p = OK.withTemperature(0.7).withTopK(40).withTopP(0.95).withMinP(0.05).withSeed(7L).withMaxTokens(16)
                .withStop(List.of("\n\n")).withPenalties(1.1, 0.5, -0.5).withTopLogprobs(20);
        assertEquals(40, p.topK());
        assertEquals(List.of("\n\n"), p.stop());
        assertTrue(p.hasPenalties());
        assertTrue(SamplingParams.greedy(5).isGreedy());
        assertFalse(OK.hasPenalties());
        assertEquals(List.of(), OK.stop());
    }
}
