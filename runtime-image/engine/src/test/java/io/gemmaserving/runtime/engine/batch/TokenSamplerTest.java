package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** OpenAI's presence and frequency penalties in the scheduler's sampler, against a plain scalar computation. */
class TokenSamplerTest {

    /**
     * The definition, written out: logit[t] - frequency * count(t) - presence * (count(t) > 0), where count(t) is how
     * often t occurs in what was generated so far.
     */
    private static float[] scalarPenalized(float[] logits, List<Integer> generated, double presence, double frequency) {
        float[] out = new float[logits.length];
        for (int t = 0; t < logits.length; t++) {
            int count = 0;
            for (int g : generated) {
                if (g == t) {
                    count++;
                }
            }
            out[t] = (float) (logits[t] - frequency * count - presence * (count > 0 ? 1 : 0));
        }
        return out;
    }

    private static List<Integer> run(TokenSampler s, float[] logits, int steps) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < steps; i++) {
            out.add(s.sample(logits.clone()));
        }
        return out;
    }

    @Test
    void greedyWithPenaltiesMatchesHandComputedSequences() {
        float[] logits = {3.0f, 2.5f, 0f};
        // frequency 1: 0 (3.0 best), then 0 is at 2.0 < 2.5 so 1, then 2.0 vs 1.5 so 0, then 1.0 vs 1.5 so 1, ...
        assertEquals(List.of(0, 1, 0, 1, 0, 1), run(new TokenSampler(0, 1, 0, 1, 7), logits, 6));
        // presence 2.5 alone: 0, then 0 at 0.5 < 2.5 so 1, then 0.5 vs 0.0 vs 0.0 so 0 for ever (presence counts once)
        assertEquals(List.of(0, 1, 0, 0, 0, 0), run(new TokenSampler(0, 1, 2.5, 0, 7), logits, 6));
        // negative penalties favour repetition: frequency -1 keeps picking 0
        assertEquals(List.of(0, 0, 0, 0), run(new TokenSampler(0, 1, 0, -1, 7), logits, 4));
        // no penalties: always 0
        assertEquals(List.of(0, 0, 0, 0), run(new TokenSampler(0, 1, 7), logits, 4));
    }

    @Test
    void sampledTokensEqualAnUnpenalizedSamplerOnScalarPenalizedLogits() {
        Random r = new Random(42);
        int vocab = 12;
        double presence = 0.7;
        double frequency = 0.45;
        long seed = 1234;
        TokenSampler penalized = new TokenSampler(0.9, 0.95, presence, frequency, seed);
        TokenSampler reference = new TokenSampler(0.9, 0.95, seed); // same seed, no penalties of its own
        TokenSampler unpenalized = new TokenSampler(0.9, 0.95, seed);
        List<Integer> generated = new ArrayList<>();
        List<Integer> withoutPenalties = new ArrayList<>();
        for (int step = 0; step < 300; step++) {
            float[] logits = new float[vocab];
            for (int i = 0; i < vocab; i++) {
                logits[i] = (float) (r.nextGaussian() * 1.5 + (i < 3 ? 2 : 0)); // a few tokens strongly preferred
            }
            float[] raw = logits.clone();
            int expected = reference.sample(scalarPenalized(logits, generated, presence, frequency));
            int got = penalized.sample(logits);
            assertEquals(expected, got, "step " + step);
            assertArrayEquals(raw, logits, "the caller's logits are the raw ones again after sampling (step " + step + ")");
            generated.add(got);
            withoutPenalties.add(unpenalized.sample(raw.clone()));
        }
        assertNotEquals(withoutPenalties, generated, "the penalties changed what was sampled");
    }

    @Test
    void penaltiesCountOnlyGeneratedTokensOfThisSampler() {
        float[] logits = {1.0f, 0.9f, 0.8f};
        TokenSampler a = new TokenSampler(0, 1, 0, 0.5, 1);
        TokenSampler b = new TokenSampler(0, 1, 0, 0.5, 1);
        assertEquals(0, a.sample(logits.clone()));
        assertEquals(1, a.sample(logits.clone()), "0 was penalized once: 0.5 < 0.9");
        assertEquals(0, b.sample(logits.clone()), "another sequence's history does not count");
    }
}
