package io.gemmaserving.runtime.engine.batch;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Picks the next token from one sequence's logits with that sequence's own seeded generator, so a request's output
 * depends only on its logits and its seed, never on which other requests share the forward pass.
 *
 * <p>Greedy at temperature 0; otherwise softmax(logits / T), restricted to the top-p nucleus, sampled by inverse
 * CDF. The nucleus is found without sorting the whole vocabulary (262k entries for Gemma 3): only tokens whose
 * probability can matter, p >= (1 - topP) / (n - 1), are sorted (the same cut mukel/llama3.java makes).
 *
 * <p>Before that, OpenAI's presence and frequency penalties, over the tokens this sampler has picked so far (the
 * sequence's own output, not its prompt): {@code logit[t] -= frequency * count(t) + presence * (count(t) > 0)}.
 * They touch only the tokens already generated, in place, and are undone after the pick, so the caller's logits
 * (from which logprobs are reported) stay the model's raw ones.
 */
public final class TokenSampler {

    private final double temperature;
    private final double topP;
    private final double presencePenalty;
    private final double frequencyPenalty;
    private final SplittableRandom random;
    /** How often each token was picked; kept only when a penalty is on. */
    private final Map<Integer, Integer> counts = new HashMap<>();

    TokenSampler(double temperature, double topP, long seed) {
        this(temperature, topP, 0, 0, seed);
    }

    TokenSampler(double temperature, double topP, double presencePenalty, double frequencyPenalty, long seed) {
        this.temperature = temperature;
        this.topP = topP;
        this.presencePenalty = presencePenalty;
        this.frequencyPenalty = frequencyPenalty;
        this.random = new SplittableRandom(seed);
    }

    /** Picks the next token (and counts it for the penalties). {@code logits} is unchanged on return. */
    int sample(float[] logits) {
        if (presencePenalty == 0 && frequencyPenalty == 0) {
            return pick(logits);
        }
        int[] ids = new int[counts.size()];
        float[] saved = new float[ids.length];
        int k = 0;
        for (var e : counts.entrySet()) {
            int t = e.getKey();
            ids[k] = t;
            saved[k++] = logits[t];
            logits[t] = penalized(logits[t], e.getValue());
        }
        int token;
        try {
            token = pick(logits);
        } finally {
            for (int i = 0; i < ids.length; i++) {
                logits[ids[i]] = saved[i];
            }
        }
        counts.merge(token, 1, Integer::sum);
        return token;
    }

    /** One logit after the penalties, for a token generated {@code count} times. */
    private float penalized(float logit, int count) {
        return count == 0 ? logit : (float) (logit - (frequencyPenalty * count + presencePenalty));
    }

    private int pick(float[] logits) {
        if (temperature == 0) {
            return argmax(logits);
        }
        int n = logits.length;
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double[] probs = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp((logits[i] - max) / temperature);
            sum += probs[i];
        }
        for (int i = 0; i < n; i++) {
            probs[i] /= sum;
        }
        double u = random.nextDouble();
        if (topP >= 1) {
            double cdf = 0;
            for (int i = 0; i < n; i++) {
                cdf += probs[i];
                if (u < cdf) {
                    return i;
                }
            }
            return argmax(logits);
        }
        double cutoff = (1 - topP) / (n - 1);
        int count = 0;
        int[] candidates = new int[n];
        for (int i = 0; i < n; i++) {
            if (probs[i] >= cutoff) {
                candidates[count++] = i;
            }
        }
        Integer[] sorted = new Integer[count];
        for (int i = 0; i < count; i++) {
            sorted[i] = candidates[i];
        }
        Arrays.sort(sorted, (a, b) -> a.equals(b) ? 0 : probs[a] != probs[b] ? Double.compare(probs[b], probs[a]) : Integer.compare(a, b));
        double mass = 0;
        int last = count - 1;
        for (int i = 0; i < count; i++) {
            mass += probs[sorted[i]];
            if (mass >= topP) {
                last = i;
                break;
            }
        }
        double r = u * mass;
        double cdf = 0;
        for (int i = 0; i <= last; i++) {
            cdf += probs[sorted[i]];
            if (r < cdf) {
                return sorted[i];
            }
        }
        return sorted[last];
    }

    /** The index of the largest logit, the lowest among equals: the greedy choice everywhere in the engine. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /** log softmax(logits)[token], over the raw (untempered) logits. */
    static float logprob(float[] logits, int token) {
        return (float) (logits[token] - logSumExp(logits));
    }

    /** The k most likely tokens with their log-probabilities, best first. */
    static int[] topK(float[] logits, int k) {
        // a small insertion-sorted list: k <= 20, one pass over the vocabulary
        int[] ids = new int[k];
        float[] vals = new float[k];
        int size = 0;
        for (int i = 0; i < logits.length; i++) {
            float v = logits[i];
            if (size < k || v > vals[size - 1]) {
                int j = Math.min(size, k - 1);
                while (j > 0 && vals[j - 1] < v) {
                    vals[j] = vals[j - 1];
                    ids[j] = ids[j - 1];
                    j--;
                }
                vals[j] = v;
                ids[j] = i;
                if (size < k) {
                    size++;
                }
            }
        }
        return Arrays.copyOf(ids, size);
    }

    static double logSumExp(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        for (float l : logits) {
            sum += Math.exp(l - max);
        }
        return max + Math.log(sum);
    }
}
