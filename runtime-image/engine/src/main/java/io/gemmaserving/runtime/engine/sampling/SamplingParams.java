package io.gemmaserving.runtime.engine.sampling;

import java.util.List;

/**
 * How one request picks its tokens. The constructor validates every field and throws
 * {@link InvalidSamplingParameterException} naming the OpenAI field at fault.
 *
 * @param temperature       0 = greedy (argmax); else logits are divided by it. Range [0, 2] (OpenAI's).
 * @param topK              keep the k most likely tokens; 0 = off. Range [0, vocabulary].
 * @param topP              keep the smallest set of most likely tokens whose probability reaches top_p; 1 = off. Range (0, 1].
 * @param minP              keep tokens with probability at least min_p times the most likely one's; 0 = off. Range [0, 1].
 * @param seed              seed of the request's own random generator; null = a random seed
 * @param maxTokens         most tokens to generate; null = up to the context length. At least 1.
 * @param stop              strings that end the generation (not included in the output); at most 16, none empty
 * @param repetitionPenalty divides positive logits (multiplies negative ones) of tokens already seen in the prompt or
 *                          output; 1 = off. Range (0, 10].
 * @param presencePenalty   subtracted once from the logit of every token already generated; 0 = off. Range [-2, 2].
 * @param frequencyPenalty  subtracted per occurrence of a token already generated; 0 = off. Range [-2, 2].
 * @param topLogprobs       how many most likely alternatives to report per token with their log-probabilities;
 *                          0 = none. Range [0, 20].
 */
public record SamplingParams(double temperature, int topK, double topP, double minP, Long seed, Integer maxTokens,
                             List<String> stop, double repetitionPenalty, double presencePenalty,
                             double frequencyPenalty, int topLogprobs) {

    public static final int MAX_STOP_STRINGS = 16;
    public static final int MAX_TOP_LOGPROBS = 20;

    public SamplingParams {
        if (!(temperature >= 0 && temperature <= 2)) {
            throw new InvalidSamplingParameterException("temperature", "temperature must be between 0 and 2, got " + temperature);
        }
        if (topK < 0) {
            throw new InvalidSamplingParameterException("top_k", "top_k must be 0 (off) or positive, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidSamplingParameterException("top_p", "top_p must be greater than 0 and at most 1, got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new InvalidSamplingParameterException("min_p", "min_p must be between 0 and 1, got " + minP);
        }
        if (maxTokens != null && maxTokens < 1) {
            throw new InvalidSamplingParameterException("max_tokens", "max_tokens must be at least 1, got " + maxTokens);
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        if (stop.size() > MAX_STOP_STRINGS) {
            throw new InvalidSamplingParameterException("stop", "stop may hold at most " + MAX_STOP_STRINGS
                    + " strings, got " + stop.size());
        }
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new InvalidSamplingParameterException("stop", "stop strings must not be empty");
            }
        }
        if (!(repetitionPenalty > 0 && repetitionPenalty <= 10)) {
            throw new InvalidSamplingParameterException("repetition_penalty",
                    "repetition_penalty must be greater than 0 and at most 10, got " + repetitionPenalty);
        }
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) {
            throw new InvalidSamplingParameterException("presence_penalty",
                    "presence_penalty must be between -2 and 2, got " + presencePenalty);
        }
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) {
            throw new InvalidSamplingParameterException("frequency_penalty",
                    "frequency_penalty must be between -2 and 2, got " + frequencyPenalty);
        }
        if (topLogprobs < 0 || topLogprobs > MAX_TOP_LOGPROBS) {
            throw new InvalidSamplingParameterException("top_logprobs",
                    "top_logprobs must be between 0 and " + MAX_TOP_LOGPROBS + ", got " + topLogprobs);
        }
    }

    /** Greedy decoding of at most {@code maxTokens} tokens, nothing else. */
    public static SamplingParams greedy(Integer maxTokens) {
        return new SamplingParams(0, 0, 1, 0, null, maxTokens, List.of(), 1, 0, 0, 0);
    }

    /** The OpenAI API's defaults: temperature 1, top_p 1, nothing else. */
    public static SamplingParams defaults() {
        return new SamplingParams(1, 0, 1, 0, null, null, List.of(), 1, 0, 0, 0);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    public boolean hasPenalties() {
        return repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0;
    }

    public SamplingParams withTemperature(double t) {
        return new SamplingParams(t, topK, topP, minP, seed, maxTokens, stop, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }

    public SamplingParams withTopK(int k) {
        return new SamplingParams(temperature, k, topP, minP, seed, maxTokens, stop, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }

    public SamplingParams withTopP(double p) {
        return new SamplingParams(temperature, topK, p, minP, seed, maxTokens, stop, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }

    public SamplingParams withMinP(double p) {
        return new SamplingParams(temperature, topK, topP, p, seed, maxTokens, stop, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }

    public SamplingParams withSeed(Long s) {
        return new SamplingParams(temperature, topK, topP, minP, s, maxTokens, stop, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }

    public SamplingParams withMaxTokens(Integer m) {
        return new SamplingParams(temperature, topK, topP, minP, seed, m, stop, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }

    public SamplingParams withStop(List<String> s) {
        return new SamplingParams(temperature, topK, topP, minP, seed, maxTokens, s, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }

    public SamplingParams withPenalties(double repetition, double presence, double frequency) {
        return new SamplingParams(temperature, topK, topP, minP, seed, maxTokens, stop, repetition, presence, frequency,
                topLogprobs);
    }

    public SamplingParams withTopLogprobs(int n) {
        return new SamplingParams(temperature, topK, topP, minP, seed, maxTokens, stop, repetitionPenalty, presencePenalty,
                frequencyPenalty, n);
    }
}
