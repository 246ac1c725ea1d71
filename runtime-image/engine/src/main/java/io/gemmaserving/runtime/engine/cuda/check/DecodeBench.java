package io.gemmaserving.runtime.engine.cuda.check;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.Engine.KvCache;
import io.gemmaserving.runtime.engine.Engine.Logits;
import io.gemmaserving.runtime.engine.Engine.Step;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Decode throughput through the seam: {@code batch} sequences with a {@code prompt}-token prefill each, then
 * {@code warmup} untimed decode steps (the CUDA engine runs a shape eagerly, then captures its graph, then replays
 * it), then {@code steps} timed ones, each asking for every sequence's last logits (which come back to the host, as
 * in serving). Returns generated tokens per second over the timed steps.
 */
public final class DecodeBench {

    private DecodeBench() {
    }

    public static double tokensPerSecond(Engine e, int batch, int prompt, int warmup, int steps, long seed) {
        int vocab = e.info().vocabSize();
        Random rnd = new Random(seed);
        List<KvCache> caches = new ArrayList<>();
        List<Step> prefill = new ArrayList<>();
        for (int s = 0; s < batch; s++) {
            KvCache c = e.newKvCache(prompt + warmup + steps + 1);
            caches.add(c);
            prefill.add(new Step(c, 0, rnd.ints(prompt, 0, vocab).toArray(), Logits.LAST));
        }
        e.step(prefill);
        for (int i = 0; i < warmup; i++) {
            e.step(decodeStep(caches, rnd, vocab));
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            e.step(decodeStep(caches, rnd, vocab));
        }
        double s = (System.nanoTime() - t0) / 1e9;
        return (double) batch * steps / s;
    }

    private static List<Step> decodeStep(List<KvCache> caches, Random rnd, int vocab) {
        List<Step> st = new ArrayList<>(caches.size());
        for (KvCache c : caches) {
            st.add(new Step(c, new int[] {rnd.nextInt(vocab)}, true));
        }
        return st;
    }
}
