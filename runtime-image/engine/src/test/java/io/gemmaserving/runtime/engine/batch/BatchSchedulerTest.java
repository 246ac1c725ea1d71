package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The scheduling logic on a deterministic test double ({@link FakeModel}); the real model is tested by the server. */
@Tag("unit")
class BatchSchedulerTest {

    private static int[] prompt(int seed, int length) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = 3 + Math.floorMod(seed * 7 + i * 13, 26);
        }
        return p;
    }

    /** Greedy output computed by hand: the whole prompt at once, then one token at a time, no scheduler. */
    private static List<Integer> referenceGreedy(int[] prompt, int maxTokens, float endBias) {
        return referencePenalizedGreedy(prompt, maxTokens, endBias, 0, 0);
    }

    @Test
    void chunkedPrefillAndDecodeMatchTheUnbatchedReference() throws Exception {
        FakeModel model = new FakeModel(100);
        try (BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(256, 4, 8, 5)).start()) {
            int[] p = prompt(1, 23); // 5 chunks: 5+5+5+5+3
            Collector c = new Collector();
            s.submit(p, GenerationParams.greedy(12), c);
            assertEquals(FinishReason.LENGTH, c.await());
            assertEquals(referenceGreedy(p, 12, 100), c.tokens);
            assertEquals(12, c.completionTokens);
            assertEquals(5 + 11, model.calls.size(), "5 prefill chunks, then 11 decode steps");
        }
    }

    @Test
    void seededSamplingIsTheSameAloneAndBatched() throws Exception {
        int n = 8;
        List<String> alone = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            try (BatchScheduler s = new BatchScheduler(new FakeModel(3), new BatchScheduler.Config(128, 4, 16, 4)).start()) {
                Collector c = new Collector();
                s.submit(prompt(i, 3 + 2 * i), params(i), c);
                c.await();
                alone.add(c.result());
            }
        }
        FakeModel model = new FakeModel(3);
        try (BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(128, 4, 16, 4)).start()) {
            model.delayMillis = 1;
            List<Collector> cs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Collector c = new Collector();
                s.submit(prompt(i, 3 + 2 * i), params(i), c);
                cs.add(c);
            }
            for (int i = 0; i < n; i++) {
                cs.get(i).await();
                assertEquals(alone.get(i), cs.get(i).result(), "request " + i);
            }
        }
        assertTrue(model.calls.stream().anyMatch(c -> c[0] > 1), "some forward passes served several sequences");
        assertTrue(model.calls.stream().allMatch(c -> c[0] <= 4), "never more than max-concurrent-sequences per pass");
        assertTrue(model.calls.stream().allMatch(c -> c[1] <= 4), "never more than prefill-chunk prompt tokens per pass");
    }

    private static GenerationParams params(int i) {
        return new GenerationParams(20, 0.9, 0.95, 1000L + i, List.of(), true, 2);
    }

    @Test
    void differentSeedsGiveDifferentSamples() throws Exception {
        try (BatchScheduler s = new BatchScheduler(new FakeModel(100), new BatchScheduler.Config(128, 2, 4, 8)).start()) {
            Collector a = new Collector();
            Collector b = new Collector();
            s.submit(prompt(3, 6), new GenerationParams(30, 1.0, 1.0, 1L, List.of(), false, 0), a);
            s.submit(prompt(3, 6), new GenerationParams(30, 1.0, 1.0, 2L, List.of(), false, 0), b);
            a.await();
            b.await();
            assertTrue(!a.tokens.equals(b.tokens), "seeds 1 and 2 sampled the same 30 tokens");
        }
    }

    @Test
    void contextLimitEndsWithLength() throws Exception {
        try (BatchScheduler s = new BatchScheduler(new FakeModel(100), new BatchScheduler.Config(16, 1, 1, 8)).start()) {
            Collector c = new Collector();
            s.submit(prompt(2, 10), GenerationParams.greedy(100), c);
            assertEquals(FinishReason.LENGTH, c.await());
            assertEquals(7, c.completionTokens, "10 prompt + 6 fed back fill 16 positions; the 7th is sampled last");
            assertThrows(IllegalArgumentException.class,
                    () -> s.submit(prompt(2, 16), GenerationParams.greedy(1), new Collector()));
        }
    }

    @Test
    void stopStringEndsTheTextBeforeIt() throws Exception {
        try (BatchScheduler s = new BatchScheduler(new FakeModel(100), new BatchScheduler.Config(128, 1, 1, 8)).start()) {
            Collector free = new Collector();
            s.submit(prompt(4, 5), GenerationParams.greedy(20), free);
            free.await();
            String full = free.text.toString();
            String stop = full.substring(5, 8); // three letters made by three different tokens
            Collector stopped = new Collector();
            s.submit(prompt(4, 5), new GenerationParams(20, 0, 1, null, List.of(stop), false, 0), stopped);
            assertEquals(FinishReason.STOP, stopped.await());
            assertEquals(full.substring(0, full.indexOf(stop)), stopped.text.toString());
        }
    }

    @Test
    void fullQueueRefusesAndCancelFreesTheSlot() throws Exception {
        FakeModel model = new FakeModel(100);
        model.delayMillis = 5;
        try (BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(4096, 1, 1, 8)).start()) {
            Collector running = new Collector();
            BatchScheduler.Handle h = s.submit(prompt(1, 4), GenerationParams.greedy(4000), running);
            waitFor(() -> s.runningRequests() == 1);
            Collector waiting = new Collector();
            BatchScheduler.Handle w = s.submit(prompt(2, 4), GenerationParams.greedy(3), waiting);
            assertEquals(1, s.waitingRequests());
            QueueFullException full = assertThrows(QueueFullException.class,
                    () -> s.submit(prompt(3, 4), GenerationParams.greedy(3), new Collector()));
            assertTrue(!full.shuttingDown());
            w.cancel();
            assertEquals(FinishReason.CANCELLED, waiting.await());
            assertEquals(0, s.waitingRequests());
            h.cancel();
            assertEquals(FinishReason.CANCELLED, running.await());
            waitFor(() -> s.runningRequests() == 0);
            assertTrue(running.completionTokens < 4000);
        }
    }

    @Test
    void drainFinishesRunningWorkAndRefusesNewWork() throws Exception {
        FakeModel model = new FakeModel(100);
        BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(256, 2, 4, 8)).start();
        List<Collector> cs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Collector c = new Collector();
            s.submit(prompt(i, 5), GenerationParams.greedy(30), c);
            cs.add(c);
        }
        assertTrue(s.drain(Duration.ofSeconds(20)));
        for (Collector c : cs) {
            assertEquals(FinishReason.LENGTH, c.done.getNow(null));
            assertEquals(30, c.completionTokens);
        }
        QueueFullException e = assertThrows(QueueFullException.class,
                () -> s.submit(prompt(9, 5), GenerationParams.greedy(3), new Collector()));
        assertTrue(e.shuttingDown());
    }

    @Test
    void drainTimeoutCancelsWhatIsLeft() throws Exception {
        FakeModel model = new FakeModel(100);
        model.delayMillis = 5;
        BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(8192, 1, 4, 8)).start();
        Collector c = new Collector();
        s.submit(prompt(1, 5), GenerationParams.greedy(8000), c);
        assertTrue(!s.drain(Duration.ofMillis(200)));
        assertEquals(FinishReason.CANCELLED, c.await());
    }

    /** Greedy with OpenAI's frequency/presence penalties, computed by hand over the generated tokens. */
    private static List<Integer> referencePenalizedGreedy(int[] prompt, int maxTokens, float endBias, double presence,
                                                          double frequency) {
        List<Integer> history = new ArrayList<>();
        for (int t : prompt) {
            history.add(t);
        }
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < maxTokens; i++) {
            float[] l = FakeModel.logitsFor(history, endBias);
            for (int t = 0; t < l.length; t++) {
                int count = 0;
                for (int g : out) {
                    count += g == t ? 1 : 0;
                }
                l[t] = (float) (l[t] - frequency * count - (count > 0 ? presence : 0));
            }
            int next = TokenSampler.argmax(l);
            if (next == 1 || next == 2) {
                break;
            }
            out.add(next);
            history.add(next);
        }
        return out;
    }

    @Test
    void penaltiesFromTheRequestReachTheSampler() throws Exception {
        int[] p = prompt(5, 7);
        try (BatchScheduler s = new BatchScheduler(new FakeModel(100), new BatchScheduler.Config(256, 2, 4, 8)).start()) {
            Collector plain = new Collector();
            Collector penalized = new Collector();
            s.submit(p, GenerationParams.greedy(40), plain);
            s.submit(p, new GenerationParams(40, 0, 1, null, List.of(), false, 0, 0.5, 1.5), penalized);
            plain.await();
            penalized.await();
            assertEquals(referenceGreedy(p, 40, 100), plain.tokens);
            assertEquals(referencePenalizedGreedy(p, 40, 100, 0.5, 1.5), penalized.tokens);
            assertTrue(!plain.tokens.equals(penalized.tokens), "the penalties changed the greedy output");
            assertTrue(penalized.tokens.stream().distinct().count() > plain.tokens.stream().distinct().count(),
                    "penalized output uses more distinct tokens: " + plain.tokens + " vs " + penalized.tokens);
        }
    }

    private static List<String> choices(BatchScheduler s, int[] p, GenerationParams params, int n) throws Exception {
        List<Collector> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cs.add(new Collector());
        }
        s.submit(p, params, n, cs::get);
        List<String> out = new ArrayList<>();
        for (Collector c : cs) {
            assertEquals(FinishReason.LENGTH, c.await());
            assertEquals(params.maxTokens(), c.completionTokens);
            out.add(c.result());
        }
        return out;
    }

    @Test
    void nChoicesAreSeparateSeededSequencesAndReproducible() throws Exception {
        int[] p = prompt(6, 9);
        GenerationParams params = new GenerationParams(25, 1.0, 1.0, 77L, List.of(), false, 0);
        FakeModel model = new FakeModel(100);
        try (BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(256, 4, 8, 4)).start()) {
            Collector single = new Collector();
            s.submit(p, params, single);
            single.await();
            List<String> first = choices(s, p, params, 3);
            assertEquals(single.result(), first.get(0), "choice 0 is what n = 1 with the same seed gives");
            assertEquals(3, first.stream().distinct().count(), "three choices, three different samples: " + first);
            // again, now batched with an unrelated request: every choice is the same again
            model.delayMillis = 1;
            Collector other = new Collector();
            s.submit(prompt(7, 5), new GenerationParams(25, 1.0, 1.0, 3L, List.of(), false, 0), other);
            assertEquals(first, choices(s, p, params, 3));
            other.await();
        }
        assertTrue(model.calls.stream().anyMatch(c -> c[0] >= 3), "the choices ran in the same forward passes");
    }

    @Test
    void nChoicesAreQueuedAllOrNoneAndCancelledTogether() throws Exception {
        FakeModel model = new FakeModel(100);
        model.delayMillis = 5;
        try (BatchScheduler s = new BatchScheduler(model, new BatchScheduler.Config(4096, 2, 2, 8)).start()) {
            assertThrows(IllegalArgumentException.class, () -> s.submit(prompt(1, 4), GenerationParams.greedy(3), 3,
                    i -> new Collector()), "n = 3 can never fit 2 slots and 2 waiting places");
            Collector running = new Collector();
            s.submit(prompt(1, 4), GenerationParams.greedy(4000), running);
            waitFor(() -> s.runningRequests() == 1);
            List<Collector> two = List.of(new Collector(), new Collector());
            BatchScheduler.Handle h = s.submit(prompt(2, 4), GenerationParams.greedy(4000), 2, two::get);
            waitFor(() -> s.runningRequests() == 2 && s.waitingRequests() == 1);
            assertThrows(QueueFullException.class, () -> s.submit(prompt(3, 4), GenerationParams.greedy(3), 2,
                    i -> new Collector()), "1 waiting + 2 is beyond 2 waiting places");
            assertEquals(1, s.waitingRequests(), "nothing of the refused request was queued");
            h.cancel();
            for (Collector c : two) {
                assertEquals(FinishReason.CANCELLED, c.await());
            }
            waitFor(() -> s.runningRequests() == 1 && s.waitingRequests() == 0);
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "condition not reached in 10 s");
            Thread.sleep(5);
        }
    }
}
