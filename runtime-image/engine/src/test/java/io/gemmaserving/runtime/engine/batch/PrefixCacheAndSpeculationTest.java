package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Prefix caching, n > 1 sharing the prompt's prefill and prompt-lookup speculation, on the {@link FakeModel} double:
 * its logits are a function of each sequence's whole history, so any reused KV that held other tokens, or any
 * speculative token the scheduler accepted wrongly, changes the output against a scheduler without those features.
 */
@Tag("unit")
class PrefixCacheAndSpeculationTest {

    private static int[] prompt(int seed, int length) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = 3 + Math.floorMod(seed * 7 + i * 13 + i * i, 26);
        }
        return p;
    }

    private static int[] concat(int[] a, List<Integer> b, int[] c) {
        int[] out = Arrays.copyOf(a, a.length + b.size() + c.length);
        for (int i = 0; i < b.size(); i++) {
            out[a.length + i] = b.get(i);
        }
        System.arraycopy(c, 0, out, a.length + b.size(), c.length);
        return out;
    }

    private static final BatchScheduler.Config PLAIN = new BatchScheduler.Config(512, 4, 16, 8);

    /** What a scheduler without prefix caching or speculation gives for one request, in a fresh scheduler. */
    private static Collector plain(int[] p, GenerationParams params, float endBias) throws Exception {
        try (BatchScheduler s = new BatchScheduler(new FakeModel(endBias), PLAIN).start()) {
            Collector c = new Collector();
            s.submit(p, params, c);
            c.await();
            return c;
        }
    }

    private static Collector run(BatchScheduler s, int[] p, GenerationParams params) throws Exception {
        Collector c = new Collector();
        s.submit(p, params, c);
        c.await();
        return c;
    }

    private static int fed(FakeModel m) {
        return m.calls.stream().mapToInt(c -> c[2]).sum();
    }

    private static GenerationParams sampled(int maxTokens, long seed) {
        return new GenerationParams(maxTokens, 0.9, 0.95, seed, List.of(), true, 2, 0.3, 0.2);
    }

    @Test
    void secondTurnReusesTheFirstTurnsKvAndGivesTheSameOutput() throws Exception {
        FakeModel model = new FakeModel(100);
        BatchScheduler.Config config = PLAIN.withPrefixCache(1 << 20, 16);
        try (BatchScheduler s = new BatchScheduler(model, config).start()) {
            int[] turn1 = prompt(1, 40);
            Collector first = run(s, turn1, sampled(12, 5));
            assertEquals(plain(turn1, sampled(12, 5), 100).result(), first.result());
            assertEquals(40, s.prefixCacheQueries());
            assertEquals(0, s.prefixCacheHits());

            // the next turn: the first prompt, the answer, a new message
            int[] turn2 = concat(turn1, first.tokens, prompt(2, 9));
            int fedBefore = fed(model);
            Collector second = run(s, turn2, sampled(12, 6));
            assertEquals(plain(turn2, sampled(12, 6), 100).result(), second.result());
            assertEquals(first.logprobs.size(), 12);
            // the first turn's cache holds its prompt and the 11 answer tokens it fed back
            assertEquals(40 + 11, s.prefixCacheHits());
            assertEquals(40 + turn2.length, s.prefixCacheQueries());
            assertEquals(turn2.length - 51 + 11, fed(model) - fedBefore, "only the new tokens and the decode steps ran");
        }
    }

    @Test
    void withNoRoomForACopyTheNextTurnTakesThePreviousOnesCache() throws Exception {
        FakeModel model = new FakeModel(100);
        // one sequence of 64 positions: the second turn's reservation leaves no room for the first turn's entry
        try (BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(64, 1, 4, 8)
                .withPrefixCache(1 << 20, 16)).start()) {
            int[] turn1 = prompt(12, 30);
            Collector first = run(s, turn1, GenerationParams.greedy(10));
            int[] turn2 = concat(turn1, first.tokens, prompt(13, 5));
            Collector second = run(s, turn2, GenerationParams.greedy(10));
            assertEquals(plain(turn2, GenerationParams.greedy(10), 100).result(), second.result());
            assertEquals(39, s.prefixCacheHits(), "the first turn's 30 + 9 positions");
            assertTrue(s.prefixCacheBytes() <= 64 * 16);
        }
    }

    @Test
    void slidingWindowRingsReuseFromSnapshotsTakenAtBlockBoundaries() throws Exception {
        FakeModel model = new FakeModel(100);
        model.ringSlots = 20; // a window of 16 and 4 spare slots
        model.spareSlots = 4;
        try (BatchScheduler s = new BatchScheduler(model, PLAIN.withPrefixCache(1 << 20, 16)).start()) {
            int[] system = prompt(3, 37);
            int[] a = concat(system, List.of(), prompt(4, 20));
            run(s, a, GenerationParams.greedy(5));
            // a shares 37 tokens with b; a's own cache (61 positions) can only go back to 57, so the snapshot at 32
            // (the second block boundary of a's prefill) is what b reuses
            int[] b = concat(system, List.of(), prompt(5, 20));
            Collector got = run(s, b, GenerationParams.greedy(5));
            assertEquals(plain(b, GenerationParams.greedy(5), 100).result(), got.result());
            assertEquals(32, s.prefixCacheHits());
            // the same prompt again: the snapshot at its end (57) serves it up to its last token
            Collector again = run(s, b, GenerationParams.greedy(5));
            assertEquals(got.result(), again.result());
            assertEquals(32 + 56, s.prefixCacheHits());
        }
    }

    @Test
    void cachedPrefixesGiveWayToRunningSequences() throws Exception {
        FakeModel model = new FakeModel(100);
        // budget 2 x 64 positions; the fake's caches cost one position per token
        BatchScheduler.Config config = new BatchScheduler.Config(64, 2, 4, 8).withPrefixCache(1 << 20, 1000);
        try (BatchScheduler s = new BatchScheduler(model, config).start()) {
            for (int i = 0; i < 6; i++) {
                run(s, prompt(10 + i, 30), GenerationParams.greedy(10));
                assertTrue(s.prefixCacheBytes() <= 128 * 16, "entries stay within the budget: " + s.prefixCacheBytes());
            }
            assertTrue(s.prefixCacheBytes() > 0);
            // two long requests at once take the whole budget: the cached entries must go for them to run together
            model.delayMillis = 2;
            Collector x = new Collector();
            Collector y = new Collector();
            s.submit(prompt(20, 30), GenerationParams.greedy(34), x);
            s.submit(prompt(21, 30), GenerationParams.greedy(34), y);
            x.await();
            y.await();
            assertTrue(model.calls.stream().anyMatch(c -> c[0] == 2), "both ran in the same forward passes");
            assertEquals(plain(prompt(21, 30), GenerationParams.greedy(34), 100).result(), y.result());
        }
    }

    @Test
    void prefixBytesLimitEvictsTheLeastRecentlyUsed() throws Exception {
        FakeModel model = new FakeModel(100);
        // 40-token entries of 16 bytes a position: two fit in 1400 bytes, three do not
        try (BatchScheduler s = new BatchScheduler(model, PLAIN.withPrefixCache(1400, 1000)).start()) {
            int[] p0 = prompt(30, 35);
            int[] p1 = prompt(31, 35);
            int[] p2 = prompt(32, 35);
            run(s, p0, GenerationParams.greedy(6));
            run(s, p1, GenerationParams.greedy(6));
            run(s, concat(p0, List.of(), prompt(1, 3)), GenerationParams.greedy(6)); // p0 used again
            long hits = s.prefixCacheHits();
            assertTrue(hits >= 35);
            run(s, p2, GenerationParams.greedy(6)); // evicts p1, the least recently used
            assertTrue(s.prefixCacheBytes() <= 1400);
            run(s, concat(p1, List.of(), prompt(1, 3)), GenerationParams.greedy(6));
            assertEquals(hits, s.prefixCacheHits(), "p1 was evicted");
            run(s, concat(p2, List.of(), prompt(2, 3)), GenerationParams.greedy(6));
            assertTrue(s.prefixCacheHits() >= hits + 35, "p2 was kept");
        }
    }

    @Test
    void nChoicesPrefillThePromptOnceAndEachEqualsItsOwnSeed() throws Exception {
        int[] p = prompt(6, 29);
        GenerationParams params = new GenerationParams(15, 1.0, 1.0, 77L, List.of(), true, 1);
        for (BatchScheduler.Config config : List.of(PLAIN, PLAIN.withPrefixCache(1 << 20, 16))) {
            FakeModel model = new FakeModel(100);
            try (BatchScheduler s = new BatchScheduler(model, config).start()) {
                List<Collector> cs = List.of(new Collector(), new Collector(), new Collector());
                s.submit(p, params, 3, cs::get);
                for (int i = 0; i < 3; i++) {
                    cs.get(i).await();
                    GenerationParams own = params.withSeed(GenerationParams.choiceSeed(77L, i));
                    assertEquals(plain(p, own, 100).result(), cs.get(i).result(), "choice " + i);
                }
                int promptFed = model.calls.stream().filter(c -> c[1] > 0).mapToInt(c -> c[1]).sum();
                assertEquals(p.length, promptFed, "the prompt ran once for three choices");
                assertEquals(3 * 14, fed(model) - promptFed, "each choice fed 14 of its 15 tokens");
            }
        }
    }

    @Test
    void aChoiceAdmittedAfterThePrefillStartsFromThePromptsKv() throws Exception {
        FakeModel model = new FakeModel(100);
        int[] p = prompt(8, 27);
        GenerationParams params = new GenerationParams(6, 1.0, 1.0, 5L, List.of(), false, 0);
        // two slots for three choices: the third waits until one of the first two ends
        try (BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(512, 2, 16, 8)).start()) {
            List<Collector> cs = List.of(new Collector(), new Collector(), new Collector());
            s.submit(p, params, 3, cs::get);
            for (int i = 0; i < 3; i++) {
                assertEquals(FinishReason.LENGTH, cs.get(i).await());
                GenerationParams own = params.withSeed(GenerationParams.choiceSeed(5L, i));
                assertEquals(plain(p, own, 100).result(), cs.get(i).result(), "choice " + i);
            }
            assertEquals(p.length, model.calls.stream().mapToInt(c -> c[1]).sum(), "the prompt ran once");
        }
    }

    /** A prompt that repeats itself, so prompt lookup finds drafts. */
    private static int[] repetitive(int length) {
        int[] base = prompt(9, 11);
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = base[i % base.length];
        }
        return p;
    }

    @Test
    void speculationGivesExactlyTheNonSpeculativeOutput() throws Exception {
        // a low end bias lets sequences end on their own; the fake repeats itself seldom, so this prompt makes the
        // drafts; the low temperature makes the sampled tokens follow the drafts often enough to be accepted
        List<GenerationParams> cases = List.of(GenerationParams.greedy(40), sampled(40, 11),
                new GenerationParams(40, 0.05, 1.0, 12L, List.of(), true, 3),
                new GenerationParams(40, 0, 1, null, List.of("q"), false, 0));
        for (GenerationParams params : cases) {
            for (int length : new int[] {30, 60}) {
                int[] p = repetitive(length);
                Collector want = plain(p, params, 1);
                FakeModel model = new FakeModel(1);
                try (BatchScheduler s = new BatchScheduler(model, PLAIN.withSpeculation(5, 3)).start()) {
                    Collector got = run(s, p, params);
                    assertEquals(want.result(), got.result(), params + " prompt " + length);
                    assertEquals(want.logprobs, got.logprobs);
                    assertEquals(want.completionTokens, got.completionTokens);
                    assertEquals(want.done.get(), got.done.get());
                    assertTrue(s.draftTokens() > 0, "prompt lookup proposed drafts");
                }
            }
        }
    }

    @Test
    void acceptedDraftsSaveForwardPasses() throws Exception {
        // the fake model's greedy output continues the prompt's cycle only by chance, so this test makes the model
        // copy: its logits favour the token that followed the previous occurrence of the last token
        int[] p = repetitive(44);
        GenerationParams params = GenerationParams.greedy(30);
        CopyingModel plainModel = new CopyingModel();
        List<Integer> want;
        try (BatchScheduler s = new BatchScheduler(plainModel, PLAIN).start()) {
            want = run(s, p, params).tokens;
        }
        CopyingModel model = new CopyingModel();
        try (BatchScheduler s = new BatchScheduler(model, PLAIN.withSpeculation(8, 2).withPrefixCache(1 << 20, 16)).start()) {
            Collector got = run(s, p, params);
            assertEquals(want, got.tokens);
            assertEquals(30, got.tokens.size());
            assertTrue(s.acceptedDraftTokens() >= 15, "accepted " + s.acceptedDraftTokens() + " of " + s.draftTokens());
            assertTrue(model.calls.size() <= plainModel.calls.size() - 12,
                    model.calls.size() + " passes with speculation, " + plainModel.calls.size() + " without");
            // its cache (cut back after every rejected draft) serves a follow-up exactly
            int[] next = concat(p, got.tokens.subList(0, 29), new int[] {5, 6});
            Collector follow = run(s, next, params);
            try (BatchScheduler fresh = new BatchScheduler(new CopyingModel(), PLAIN).start()) {
                assertEquals(run(fresh, next, params).tokens, follow.tokens);
            }
            assertEquals(44 + 29, s.prefixCacheHits(), "the whole first sequence was reused");
        }
    }

    /** A fake whose logits prefer the token that followed the last earlier occurrence of the current token. */
    static final class CopyingModel extends FakeModel {
        CopyingModel() {
            super(100);
        }

        @Override
        float[] logits(List<Integer> history) {
            float[] l = logitsFor(history, endBias);
            int last = history.get(history.size() - 1);
            for (int i = history.size() - 2; i >= 0; i--) {
                if (history.get(i) == last) {
                    l[history.get(i + 1)] += 50;
                    break;
                }
            }
            return l;
        }
    }

    @Test
    void promptLookupFindsTheMostRecentLongestMatch() {
        int[] c = {1, 2, 3, 4, 9, 2, 3, 5, 6, 7, 2, 3};
        assertEquals(List.of(5, 6), toList(PromptLookup.draft(c, c.length, 2, 2)));
        assertEquals(List.of(5, 6, 7, 2), toList(PromptLookup.draft(c, c.length, 3, 4)));
        int[] d = {1, 2, 3, 1, 2, 4, 8, 3};
        assertEquals(List.of(1, 2, 4), toList(PromptLookup.draft(d, d.length, 3, 3)), "falls back to a 1-gram");
        assertEquals(List.of(), toList(PromptLookup.draft(new int[] {1, 2, 3}, 3, 3, 4)));
        assertEquals(List.of(), toList(PromptLookup.draft(c, c.length, 3, 0)));
    }

    private static List<Integer> toList(int[] a) {
        List<Integer> l = new ArrayList<>();
        for (int x : a) {
            l.add(x);
        }
        return l;
    }
}
