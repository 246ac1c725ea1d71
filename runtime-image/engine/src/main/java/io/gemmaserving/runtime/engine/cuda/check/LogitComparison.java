package io.gemmaserving.runtime.engine.cuda.check;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.Engine.KvCache;
import io.gemmaserving.runtime.engine.Engine.Logits;
import io.gemmaserving.runtime.engine.Engine.Step;
import io.gemmaserving.runtime.engine.batch.TokenSampler;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Runs the same seam scenario on two engines and compares every logit row they return. The scenario exercises
 * what the CUDA engine does differently from the CPU one: a prompt long enough to be cut into chunks and to wrap
 * the sliding-window rings, every row's logits, batched steps that mix a decode token with prompt chunks of new
 * sequences, a rewind (a rejected draft) and a copy (a fork). Token ids are fixed by a seed, so both engines see the
 * same inputs whatever they predict.
 */
public final class LogitComparison {

    /** Per-row comparison of two engines' logits. */
    public record Result(int rows, double maxAbsDiff, double scale, int argmaxAgree) {
        /** maxAbsDiff relative to the reference's largest |logit| (at least 1). */
        public double relative() {
            return maxAbsDiff / Math.max(1.0, scale);
        }

        public String describe() {
            return String.format(Locale.ROOT, "max |diff| %.3g (%.3g of max |logit| %.3g), argmax equal on %d/%d rows",
                    maxAbsDiff, relative(), scale, argmaxAgree, rows);
        }
    }

    private LogitComparison() {
    }

    /** The scenario's logit rows on {@code e}: prompt length {@code promptLength}, ids below {@code vocab}. */
    public static List<float[]> scenario(Engine e, int promptLength, long seed) {
        int vocab = e.info().vocabSize();
        Random rnd = new Random(seed);
        List<float[]> rows = new ArrayList<>();
        int[] prompt = ids(rnd, promptLength, vocab);
        KvCache a = e.newKvCache(promptLength + 64);
        addRows(rows, e.step(List.of(new Step(a, 0, prompt, Logits.ALL)))[0], vocab);

        // Batched steps: a's decode token with chunks of two new prompts, then all three decode together.
        KvCache b = e.newKvCache(96);
        KvCache c = e.newKvCache(96);
        int[] pb = ids(rnd, 19, vocab);
        int[] pc = ids(rnd, 7, vocab);
        float[][] out = e.step(List.of(new Step(a, ids(rnd, 1, vocab), true), new Step(b, 0, pb, Logits.LAST),
                new Step(c, 0, pc, Logits.ALL)));
        addRows(rows, out[0], vocab);
        addRows(rows, out[1], vocab);
        addRows(rows, out[2], vocab);
        for (int i = 0; i < 6; i++) {
            out = e.step(List.of(new Step(a, ids(rnd, 1, vocab), true), new Step(b, ids(rnd, 1, vocab), true),
                    new Step(c, ids(rnd, 1, vocab), true)));
            for (float[] o : out) {
                addRows(rows, o, vocab);
            }
        }

        // A rejected three-token draft on a: write over its last three positions.
        int back = a.length() - 3;
        addRows(rows, e.step(List.of(new Step(a, back, ids(rnd, 3, vocab), Logits.ALL)))[0], vocab);
        // A fork of b two positions back continues on its own while b goes on.
        KvCache fork = b.copy(b.length() - 2);
        out = e.step(List.of(new Step(fork, ids(rnd, 2, vocab), true), new Step(b, ids(rnd, 1, vocab), true)));
        addRows(rows, out[0], vocab);
        addRows(rows, out[1], vocab);
        return rows;
    }

    /** Compares row lists of equal shape; {@code ref} sets the scale. */
    public static Result compare(List<float[]> ref, List<float[]> got) {
        if (ref.size() != got.size()) {
            throw new IllegalArgumentException(ref.size() + " reference rows, " + got.size() + " rows to compare");
        }
        double max = 0;
        double scale = 0;
        int agree = 0;
        for (int i = 0; i < ref.size(); i++) {
            float[] r = ref.get(i);
            float[] g = got.get(i);
            if (r.length != g.length) {
                throw new IllegalArgumentException("row " + i + ": " + r.length + " vs " + g.length + " logits");
            }
            for (int j = 0; j < r.length; j++) {
                double d = Math.abs((double) r[j] - g[j]);
                max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(max, d);
                scale = Math.max(scale, Math.abs(r[j]));
            }
            agree += TokenSampler.argmax(r) == TokenSampler.argmax(g) ? 1 : 0;
        }
        return new Result(ref.size(), max, scale, agree);
    }

    private static int[] ids(Random rnd, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }

    private static void addRows(List<float[]> rows, float[] logits, int vocab) {
        for (int r = 0; r < logits.length / vocab; r++) {
            rows.add(Arrays.copyOfRange(logits, r * vocab, (r + 1) * vocab));
        }
    }
}
