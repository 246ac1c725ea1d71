package io.gemmaserving.runtime.engine.model;

import java.util.Arrays;
import java.util.List;

/**
 * The chat prompts the Gemma 3 270M comparisons run (against the Hugging Face reference here, against llama.cpp in
 * the bench module), and the top-5 both compare at the first step.
 */
final class Gemma270mPrompts {

    private Gemma270mPrompts() {
    }

    /** Fixed before any result was seen, so none is here for agreeing. */
    static final List<String> PROMPTS = List.of(
            "What is the capital of France?",
            "Write a haiku about the sea.",
            "Explain what a KV cache is in one paragraph.",
            "List three prime numbers greater than 10.",
            "Translate 'good morning' into German and Spanish.",
            "Name the largest planet in the solar system.",
            "What does a compiler do?",
            "Give me a short recipe for pancakes.",
            "Why is the sky blue?",
            "Write one sentence about autumn.");

    /** Ids of the five largest logits, largest first. */
    static int[] top5(float[] logits) {
        Integer[] idx = new Integer[logits.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(logits[b], logits[a]));
        int[] out = new int[5];
        for (int i = 0; i < 5; i++) {
            out[i] = idx[i];
        }
        return out;
    }
}
