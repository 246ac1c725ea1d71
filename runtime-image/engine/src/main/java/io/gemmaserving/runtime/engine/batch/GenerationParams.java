package io.gemmaserving.runtime.engine.batch;

import java.util.List;

/**
 * How one request samples and when it stops. Validated by the caller (the HTTP layer names the bad parameter);
 * the constructor only rejects values the scheduler cannot run with.
 *
 * @param maxTokens    most tokens to generate (the sequence also stops at the context limit)
 * @param temperature  0 means greedy (argmax); otherwise logits are divided by it before the softmax
 * @param topP         nucleus sampling: keep the smallest set of tokens whose probability sums to at least topP
 * @param seed         seeds this request's own random generator; null draws a fresh seed
 * @param stop         strings that end the generation; the matched string is not part of the output
 * @param logprobs     report the log-probability of each chosen token
 * @param topLogprobs  also report this many most likely alternatives per position (0..20)
 * @param presencePenalty  OpenAI's presence_penalty: subtracted once from the logit of every token this sequence has
 *                         generated (not the prompt's); 0 = off, range [-2, 2]
 * @param frequencyPenalty OpenAI's frequency_penalty: subtracted per occurrence of a token this sequence has
 *                         generated; 0 = off, range [-2, 2]
 */
public record GenerationParams(int maxTokens, double temperature, double topP, Long seed, List<String> stop,
                               boolean logprobs, int topLogprobs, double presencePenalty, double frequencyPenalty) {

    public GenerationParams {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        }
        if (!(temperature >= 0) || !(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("temperature must be >= 0 and topP in (0, 1]");
        }
        if (topLogprobs < 0 || topLogprobs > 20) {
            throw new IllegalArgumentException("topLogprobs must be in 0..20, got " + topLogprobs);
        }
        if (!(presencePenalty >= -2 && presencePenalty <= 2) || !(frequencyPenalty >= -2 && frequencyPenalty <= 2)) {
            throw new IllegalArgumentException("presence and frequency penalties must be in [-2, 2], got "
                    + presencePenalty + " and " + frequencyPenalty);
        }
        stop = stop == null ? List.of() : List.copyOf(stop.stream().filter(s -> !s.isEmpty()).toList());
    }

    /** Without penalties. */
    public GenerationParams(int maxTokens, double temperature, double topP, Long seed, List<String> stop,
                            boolean logprobs, int topLogprobs) {
        this(maxTokens, temperature, topP, seed, stop, logprobs, topLogprobs, 0, 0);
    }

    /** The same parameters with another seed (one choice of an n > 1 request). */
    public GenerationParams withSeed(Long newSeed) {
        return new GenerationParams(maxTokens, temperature, topP, newSeed, stop, logprobs, topLogprobs, presencePenalty,
                frequencyPenalty);
    }

    /**
     * The seed of choice {@code index} of a request seeded with {@code seed}: the seed itself for choice 0 (so n = 1
     * and choice 0 of n > 1 agree), a SplitMix64 mix of both for the others.
     */
    public static long choiceSeed(long seed, int index) {
        if (index == 0) {
            return seed;
        }
        long z = seed + 0x9E3779B97F4A7C15L * index;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public static GenerationParams greedy(int maxTokens) {
        return new GenerationParams(maxTokens, 0, 1, null, List.of(), false, 0);
    }
}
