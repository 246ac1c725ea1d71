package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The scheduler's sampler: greedy and nucleus picks against the textbook computation, per-sequence seeding, and
 * OpenAI's presence and frequency penalties against a plain scalar computation.
 */
@Tag("unit")
class TokenSamplerTest {

    static float[] randomLogits(long seed, int n, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = (float) (r.nextGaussian() * scale);
        }
        return l;
    }

    @Test
    void greedyIsTheLargestLogitWhateverTheSeed() {
        for (int s = 0; s < 20; s++) {
            float[] logits = randomLogits(s, 5000, 3);
            int expected = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[expected]) {
                    expected = i;
                }
            }
            assertEquals(expected, TokenSampler.argmax(logits));
            assertEquals(expected, new TokenSampler(0, 1, s).sample(logits));
            assertEquals(expected, new TokenSampler(0, 0.5, s + 1000).sample(logits), "top_p does not matter at T = 0");
        }
        assertEquals(1, TokenSampler.argmax(new float[] {0, 2, 2}), "the lowest id among equals");
    }

    @Test
    void sameSeedSameTokensWhateverElseRuns() {
        float[] logits = randomLogits(5, 2000, 1);
        TokenSampler a = new TokenSampler(1.2, 0.95, 1234);
        int[] alone = IntStream.range(0, 64).map(i -> a.sample(logits)).toArray();
        // the same request again, interleaved with another request's draws (as in a batch)
        TokenSampler b = new TokenSampler(1.2, 0.95, 1234);
        TokenSampler other = new TokenSampler(1.2, 0.95, 99);
        int[] interleaved = new int[64];
        int[] others = new int[64];
        for (int i = 0; i < 64; i++) {
            others[i] = other.sample(logits);
            interleaved[i] = b.sample(logits);
        }
        assertArrayEquals(alone, interleaved);
        assertNotEquals(Arrays.toString(alone), Arrays.toString(others), "another seed draws another sequence");
    }

    /** The textbook nucleus: softmax(logits / t), sort everything, keep the smallest prefix with mass >= topP. */
    private static double[] nucleus(float[] logits, double t, double topP) {
        int n = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double[] p = new double[n];
        double z = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp((logits[i] - max) / t);
            z += p[i];
        }
        List<Integer> order = new ArrayList<>(IntStream.range(0, n).boxed().toList());
        double zz = z;
        order.sort(Comparator.comparingDouble((Integer i) -> -p[i]).thenComparingInt(i -> i));
        double[] kept = new double[n];
        double cum = 0;
        for (int i : order) {
            kept[i] = p[i] / zz;
            cum += p[i] / zz;
            if (cum >= topP) {
                break;
            }
        }
        double mass = Arrays.stream(kept).sum();
        for (int i = 0; i < n; i++) {
            kept[i] /= mass;
        }
        return kept;
    }

    @Test
    void drawsFollowTheNucleusProbabilities() {
        float[] logits = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -3.0f};
        for (double topP : new double[] {1, 0.9, 0.5}) {
            double[] want = nucleus(logits, 0.9, topP);
            TokenSampler sampler = new TokenSampler(0.9, topP, 7);
            int draws = 40_000;
            int[] counts = new int[logits.length];
            for (int i = 0; i < draws; i++) {
                counts[sampler.sample(logits)]++;
            }
            for (int i = 0; i < logits.length; i++) {
                double freq = counts[i] / (double) draws;
                if (want[i] == 0) {
                    assertEquals(0, counts[i], "top_p " + topP + ": token " + i + " is outside the nucleus");
                } else {
                    // 40k draws: a frequency's standard deviation is at most 0.0025, so 0.01 is four of them
                    assertEquals(want[i], freq, 0.01, "top_p " + topP + ": token " + i);
                }
            }
        }
    }

    @Test
    void topLogprobsAreTheLargestLogSoftmaxValues() {
        float[] logits = randomLogits(3, 10_000, 4);
        int[] top = TokenSampler.topK(logits, 5);
        assertEquals(5, top.length);
        double lse = TokenSampler.logSumExp(logits);
        Integer[] order = IntStream.range(0, logits.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        for (int i = 0; i < 5; i++) {
            assertEquals(order[i], top[i]);
            // float logits, double sum: the difference is the float rounding of one logit minus lse
            assertEquals(logits[order[i]] - lse, TokenSampler.logprob(logits, order[i]), 1e-4);
        }
        double total = 0;
        for (float v : logits) {
            total += Math.exp(v - lse);
        }
        assertEquals(1.0, total, 1e-9);
    }

    @Test
    void fastOnAGemmaSizedVocabulary() {
        float[] logits = randomLogits(11, 262_144, 3);
        TokenSampler sampler = new TokenSampler(0.8, 0.95, 3);
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            long t0 = System.nanoTime();
            sampler.sample(logits);
            best = Math.min(best, System.nanoTime() - t0);
        }
        System.out.printf("sampler: top-p 0.95 over 262144 logits in %.2f ms (best of 10)%n", best / 1e6);
        // a few milliseconds on an idle core; the bound is loose so a busy machine passes, and catches a full
        // sort of the vocabulary per token or a quadratic step, not a few milliseconds
        assertTrue(best < 250_000_000L, "sampling took " + best / 1e6 + " ms");
    }

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
