package io.gemmaserving.runtime.engine.model;

import static io.gemmaserving.runtime.engine.model.TinyFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gemmaserving.runtime.engine.Engine.KvCache;
import io.gemmaserving.runtime.engine.Engine.Logits;
import io.gemmaserving.runtime.engine.Engine.Step;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The engine seam's positions, rewinds, copies and all-row logits on the CPU engine, against the transformers goldens
 * of the tiny checkpoints (sliding window 4) and against the same sequence computed without a rewind. Tolerance as in
 * {@link GemmaForwardGoldenTest}: float32 on both sides, different summation orders.
 */
@Tag("model")
class EngineSeamTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma1", "tiny-gemma2", "tiny-gemma3"})
    void allLogitsRewindAndCopyMatchTheGoldens(String name) throws Exception {
        Path dir = TinyFixtures.fixtures().resolve(name);
        var golden = TinyFixtures.Golden.read(dir.resolve("golden.json"));
        try (GemmaModel m = TinyFixtures.loadHfWithDoubles(dir, 1)) {
            int vocab = m.info().vocabSize();
            int[] p = golden.prompts()[0];
            float[][] g = golden.logits()[0];

            // Every row's logits from one prefill step.
            KvCache c = m.newKvCache(64);
            float[] all = m.step(List.of(new Step(c, 0, p, Logits.ALL)))[0];
            assertEquals(p.length * vocab, all.length);
            for (int t = 0; t < p.length; t++) {
                float d = maxAbsDiff(Arrays.copyOfRange(all, t * vocab, (t + 1) * vocab), g[t]);
                assertTrue(d <= GemmaForwardGoldenTest.TOL, name + " ALL row " + t + ": " + d);
            }

            // A rejected three-token draft, then the real tokens written over it.
            int k = p.length / 2;
            KvCache r = m.newKvCache(64);
            m.step(List.of(new Step(r, 0, Arrays.copyOf(p, k), Logits.NONE)));
            m.step(List.of(new Step(r, k, new int[] {3, 4, 5}, Logits.LAST)));
            float[] after = m.step(List.of(new Step(r, k, Arrays.copyOfRange(p, k, p.length), Logits.LAST)))[0];
            assertEquals(p.length, r.length());
            assertTrue(maxAbsDiff(after, g[p.length - 1]) <= GemmaForwardGoldenTest.TOL, name + " after a rewind");

            // A copy of the first k positions continues like the original.
            KvCache fork = c.copy(k);
            assertEquals(k, fork.length());
            float[] forked = m.step(List.of(new Step(fork, Arrays.copyOfRange(p, k, p.length), true)))[0];
            assertTrue(maxAbsDiff(forked, g[p.length - 1]) <= GemmaForwardGoldenTest.TOL, name + " after a copy");
            assertEquals(p.length, c.length(), "copying leaves the original as it was");
        }
    }

    /** Past the ring's spare slots a sliding-window cache refuses a rewind it could not honour, and honours the rest. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma2", "tiny-gemma3"})
    void ringsRewindAsFarAsTheirSpareSlots(String name) throws Exception {
        Path dir = TinyFixtures.fixtures().resolve(name);
        try (GemmaModel m = TinyFixtures.loadHfWithDoubles(dir, 1)) {
            int window = m.config().slidingWindow();
            int n = window + GemmaKvCache.SPARE_SLOTS + 20;
            int[] tokens = new Random(7).ints(n, 3, m.info().vocabSize()).toArray();
            KvCache straight = m.newKvCache(n + 8);
            float[] want = m.step(List.of(new Step(straight, tokens, true)))[0];

            int cut = n - 10;
            KvCache r = m.newKvCache(n + 8);
            m.step(List.of(new Step(r, Arrays.copyOf(tokens, cut + 5), false)));
            int limit = r.rewindLimit();
            assertEquals(cut + 5 - GemmaKvCache.SPARE_SLOTS, limit, "ring of window + spare slots");
            assertThrows(IllegalArgumentException.class, () -> r.truncate(limit - 1));
            assertThrows(IllegalArgumentException.class,
                    () -> m.step(List.of(new Step(r, limit - 1, new int[] {3}, Logits.LAST))));
            float[] got = m.step(List.of(new Step(r, cut, Arrays.copyOfRange(tokens, cut, n), Logits.LAST)))[0];
            assertTrue(maxAbsDiff(got, want) <= GemmaForwardGoldenTest.TOL, name + " rewind within the spare slots");
        }
    }
}
