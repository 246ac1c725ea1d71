package io.gemmaserving.runtime.engine.sampling;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Picks one request's tokens from its logits. One instance per request (not thread-safe): it owns the request's random
 * generator, seeded from {@link SamplingParams#seed()}, so the output depends only on the request's logits and seed,
 * never on the other requests that share a batch.
 *
 * <p>Per step: penalties on the logits (repetition over prompt and output; presence and frequency over the output),
 * then greedy argmax when the temperature is 0, else softmax(logits / T) restricted by top-k, then top-p (on the
 * distribution renormalized after top-k), then min-p, and one draw from what is left.
 *
 * <p>The vocabulary is large (262k for Gemma 3), so nothing sorts all of it: top-k keeps a heap of k entries, and
 * without top-k only the tokens that can be in the nucleus ({@code p >= (1 - top_p) / (n - 1)}, the cut
 * mukel/llama3.java makes) or pass min-p are sorted.
 */
public final class Sampler {

    private static final String ALGORITHM = "L64X128MixRandom";

    private final SamplingParams params;
    private final RandomGenerator random;
    /** Tokens seen so far: prompt ones for the repetition penalty, generated ones with their counts. */
    private final Map<Integer, Integer> generatedCounts = new HashMap<>();
    private final Set<Integer> seen = new HashSet<>();

    public Sampler(SamplingParams params) {
        this(params, new int[0]);
    }

    /** @param prompt the prompt's tokens, which the repetition penalty counts as seen */
    public Sampler(SamplingParams params, int[] prompt) {
        this.params = params;
        long seed = params.seed() != null ? params.seed() : new SecureRandom().nextLong();
        this.random = RandomGeneratorFactory.of(ALGORITHM).create(seed);
        if (params.repetitionPenalty() != 1) {
            for (int t : prompt) {
                seen.add(t);
            }
        }
    }

    public SamplingParams params() {
        return params;
    }

    /** Picks the next token and records it as generated (for the penalties). {@code logits} is not modified. */
    public int sample(float[] logits) {
        float[] l = params.hasPenalties() ? applyPenalties(logits) : logits;
        int token;
        if (params.isGreedy()) {
            token = argmax(l);
        } else {
            Candidates c = candidates(l);
            double u = random.nextDouble();
            double cdf = 0;
            token = c.ids()[c.ids().length - 1];
            for (int i = 0; i < c.ids().length; i++) {
                cdf += c.probs()[i];
                if (u < cdf) {
                    token = c.ids()[i];
                    break;
                }
            }
        }
        accept(token);
        return token;
    }

    /** Records a token as generated without sampling it (e.g. one forced by the caller). */
    public void accept(int token) {
        generatedCounts.merge(token, 1, Integer::sum);
        seen.add(token);
    }

    /** The logits after the repetition, presence and frequency penalties (a copy). */
    public float[] applyPenalties(float[] logits) {
        float[] l = logits.clone();
        double rep = params.repetitionPenalty();
        if (rep != 1) {
            for (int t : seen) {
                if (t >= 0 && t < l.length) {
                    l[t] = (float) (l[t] > 0 ? l[t] / rep : l[t] * rep);
                }
            }
        }
        if (params.presencePenalty() != 0 || params.frequencyPenalty() != 0) {
            for (var e : generatedCounts.entrySet()) {
                int t = e.getKey();
                if (t >= 0 && t < l.length) {
                    l[t] -= (float) (params.presencePenalty() + params.frequencyPenalty() * e.getValue());
                }
            }
        }
        return l;
    }

    /** Tokens that may be drawn and their probabilities (summing to 1), most likely first (ties: lower id first). */
    public record Candidates(int[] ids, double[] probs) {
    }

    /**
     * The distribution {@link #sample} draws from at temperature > 0 for these (already penalized) logits: softmax
     * at the temperature, then top-k, top-p and min-p.
     */
    public Candidates candidates(float[] logits) {
        int n = logits.length;
        double t = params.temperature();
        if (t <= 0) {
            throw new IllegalStateException("candidates() needs a temperature above 0");
        }
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        // probabilities over the whole vocabulary at temperature t
        double[] p = new double[n];
        double z = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(((double) logits[i] - max) / t);
            z += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= z;
        }
        int[] ids;
        if (params.topK() > 0 && params.topK() < n) {
            ids = topKByProbability(p, params.topK());
        } else {
            // only tokens that can survive top-p / min-p need sorting
            double cut = 0;
            if (params.topP() < 1) {
                cut = (1 - params.topP()) / Math.max(1, n - 1);
            }
            double pMax = maxOf(p);
            if (params.minP() > 0) {
                cut = Math.max(cut, params.minP() * pMax);
            }
            cut = Math.min(cut, pMax); // the most likely token always stays
            int count = 0;
            int[] tmp = new int[n];
            for (int i = 0; i < n; i++) {
                if (p[i] >= cut) {
                    tmp[count++] = i;
                }
            }
            ids = sortByProbability(Arrays.copyOf(tmp, count), p);
        }
        // top-p on the distribution renormalized after top-k (without top-k: the whole vocabulary, mass 1; the
        // tokens cut above lie beyond the nucleus anyway)
        double mass = 1;
        if (params.topK() > 0 && params.topK() < n) {
            mass = 0;
            for (int id : ids) {
                mass += p[id];
            }
        }
        int keep = ids.length;
        if (params.topP() < 1) {
            double cum = 0;
            for (int i = 0; i < ids.length; i++) {
                cum += p[ids[i]] / mass;
                if (cum >= params.topP()) {
                    keep = i + 1;
                    break;
                }
            }
        }
        // min-p, relative to the most likely token (the first)
        if (params.minP() > 0) {
            double floor = params.minP() * p[ids[0]];
            int k = 0;
            while (k < keep && p[ids[k]] >= floor) {
                k++;
            }
            keep = Math.max(1, k);
        }
        int[] kept = Arrays.copyOf(ids, keep);
        double[] probs = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            sum += p[kept[i]];
        }
        for (int i = 0; i < keep; i++) {
            probs[i] = p[kept[i]] / sum;
        }
        return new Candidates(kept, probs);
    }

    private static double maxOf(double[] p) {
        double m = 0;
        for (double v : p) {
            m = Math.max(m, v);
        }
        return m;
    }

    /** The k most probable ids, most probable first (ties: lower id first), with a k-entry min-heap. */
    private static int[] topKByProbability(double[] p, int k) {
        int[] heap = new int[k]; // min-heap on (p, -id): the root is the worst kept token
        int size = 0;
        for (int i = 0; i < p.length; i++) {
            if (size < k) {
                heap[size] = i;
                siftUp(heap, size++, p);
            } else if (better(i, heap[0], p)) {
                heap[0] = i;
                siftDown(heap, size, p);
            }
        }
        return sortByProbability(heap, p);
    }

    private static boolean better(int a, int b, double[] p) {
        return p[a] > p[b] || (p[a] == p[b] && a < b);
    }

    private static void siftUp(int[] h, int i, double[] p) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!better(h[parent], h[i], p)) {
                break;
            }
            int tmp = h[parent];
            h[parent] = h[i];
            h[i] = tmp;
            i = parent;
        }
    }

    private static void siftDown(int[] h, int size, double[] p) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1;
            int r = l + 1;
            int worst = i;
            if (l < size && better(h[worst], h[l], p)) {
                worst = l;
            }
            if (r < size && better(h[worst], h[r], p)) {
                worst = r;
            }
            if (worst == i) {
                return;
            }
            int tmp = h[worst];
            h[worst] = h[i];
            h[i] = tmp;
            i = worst;
        }
    }

    /** Ids sorted most probable first (ties: lower id first): a bottom-up merge sort on primitive ints (no boxing). */
    private static int[] sortByProbability(int[] ids, double[] p) {
        int n = ids.length;
        int[] a = ids.clone();
        int[] b = new int[n];
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n; lo += 2 * width) {
                int mid = Math.min(lo + width, n);
                int hi = Math.min(lo + 2 * width, n);
                int i = lo;
                int j = mid;
                int k = lo;
                while (i < mid && j < hi) {
                    b[k++] = better(a[j], a[i], p) ? a[j++] : a[i++];
                }
                while (i < mid) {
                    b[k++] = a[i++];
                }
                while (j < hi) {
                    b[k++] = a[j++];
                }
            }
            int[] t = a;
            a = b;
            b = t;
        }
        return a;
    }

    /** Index of the largest logit (the first one on ties). */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** One token with its log-probability under the model (raw logits, before temperature and penalties). */
    public record TokenLogprob(int token, float logprob) {
    }

    /** log softmax(logits)[token]. */
    public static float logprob(float[] logits, int token) {
        return (float) (logits[token] - logSumExp(logits));
    }

    /** The {@code k} most likely tokens with their log-probabilities, most likely first (OpenAI's top_logprobs). */
    public static List<TokenLogprob> topLogprobs(float[] logits, int k) {
        if (k <= 0) {
            return List.of();
        }
        double lse = logSumExp(logits);
        double[] asDouble = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            asDouble[i] = logits[i];
        }
        int[] ids = topKByProbability(asDouble, Math.min(k, logits.length));
        List<TokenLogprob> out = new ArrayList<>(ids.length);
        for (int id : ids) {
            out.add(new TokenLogprob(id, (float) (logits[id] - lse)));
        }
        return out;
    }

    static double logSumExp(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return max + Math.log(sum);
    }
}
