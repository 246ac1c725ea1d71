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
 */
public record GenerationParams(int maxTokens, double temperature, double topP, Long seed, List<String> stop,
                               boolean logprobs, int topLogprobs) {

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
        stop = stop == null ? List.of() : List.copyOf(stop.stream().filter(s -> !s.isEmpty()).toList());
    }

    public static GenerationParams greedy(int maxTokens) {
        return new GenerationParams(maxTokens, 0, 1, null, List.of(), false, 0);
    }
}
