package io.gemmaserving.runtime.engine.batch;

import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.ModelInfo;
import io.gemmaserving.runtime.engine.model.Architecture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * TEST DOUBLE for the scheduling logic only (not a model): a deterministic "model" whose logits are a pseudo-random
 * function of the whole token history of a sequence. If the scheduler dropped, repeated or reordered any prompt
 * chunk or decode token, the logits (and so the output) would change. Vocabulary: 0 pad, 1 eos, 2 end_of_turn,
 * 3..28 the letters 'a'..'z', 29 a space, 30 and 31 the two UTF-8 bytes of 'é' (byte-fallback style).
 */
class FakeModel implements Engine {

    static final int VOCAB = 32;

    /** Sizes of each forward call: steps, tokens of steps with several tokens, all tokens (for assertions). */
    final List<int[]> calls = new CopyOnWriteArrayList<>();
    /** Milliseconds each forward pass sleeps (to keep requests running while a test acts). */
    volatile long delayMillis;
    /** How strongly end tokens are suppressed (a large value keeps sequences generating). */
    final float endBias;
    /**
     * When positive, caches behave like a sliding-window ring of this many slots of which {@link #spareSlots} are
     * spare (the CPU engine's layout): past {@code ringSlots} positions, {@code rewindLimit = length - spareSlots}.
     */
    volatile int ringSlots;
    volatile int spareSlots;

    FakeModel(float endBias) {
        this.endBias = endBias;
    }

    /** The logits after {@code history}; {@link #logitsFor} unless a test's subclass says otherwise. */
    float[] logits(List<Integer> history) {
        return logitsFor(history, endBias);
    }

    static float[] logitsFor(List<Integer> history, float endBias) {
        long h = 1125899906842597L;
        for (int t : history) {
            h = 31 * h + t;
        }
        Random r = new Random(h);
        float[] logits = new float[VOCAB];
        for (int i = 0; i < VOCAB; i++) {
            logits[i] = (float) (r.nextGaussian() * 2);
        }
        logits[0] = -100;
        logits[1] -= endBias;
        logits[2] -= endBias;
        return logits;
    }

    final class Cache implements KvCache {
        final List<Integer> tokens = new ArrayList<>();
        final int capacity;

        Cache(int capacity) {
            this.capacity = capacity;
        }

        @Override
        public int length() {
            return tokens.size();
        }

        @Override
        public int capacity() {
            return capacity;
        }

        @Override
        public long bytes() {
            return tokens.size() * 16L;
        }

        @Override
        public int rewindLimit() {
            int ring = ringSlots;
            return ring > 0 && tokens.size() > ring ? tokens.size() - spareSlots : 0;
        }

        @Override
        public void truncate(int length) {
            checkRewind(length);
            tokens.subList(length, tokens.size()).clear();
        }

        private void checkRewind(int length) {
            if (length < rewindLimit() || length > tokens.size()) {
                throw new IllegalArgumentException("cannot cut " + tokens.size() + " positions to " + length
                        + " (rewind limit " + rewindLimit() + ")");
            }
        }

        @Override
        public Cache copy(int length) {
            checkRewind(length);
            Cache c = new Cache(capacity);
            c.tokens.addAll(tokens.subList(0, length));
            return c;
        }
    }

    @Override
    public ModelInfo info() {
        return new ModelInfo("fake", Architecture.GEMMA3, 1 << 20, VOCAB, 16, 0);
    }

    @Override
    public GemmaTokenizer tokenizer() {
        return TOKENIZER;
    }

    @Override
    public String description() {
        return "fake (a pseudo-random function of each sequence's history)";
    }

    @Override
    public KvCache newKvCache(int maxTokens) {
        return new Cache(maxTokens);
    }

    @Override
    public float[][] step(List<Step> steps) {
        int promptTokens = 0;
        int allTokens = 0;
        float[][] out = new float[steps.size()][];
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            Cache c = (Cache) s.cache();
            if (s.position() > c.length() || s.position() < c.rewindLimit()
                    || s.position() + s.tokens().length > c.capacity) {
                throw new IllegalStateException("bad step: position " + s.position() + ", " + s.tokens().length
                        + " tokens, cache " + c.length() + " of " + c.capacity);
            }
            c.truncate(s.position());
            for (int t : s.tokens()) {
                c.tokens.add(t);
            }
            allTokens += s.tokens().length;
            if (s.tokens().length > 1) {
                promptTokens += s.tokens().length;
            }
            out[i] = switch (s.logits()) {
                case NONE -> null;
                case LAST -> logits(c.tokens);
                case ALL -> {
                    float[] all = new float[s.tokens().length * VOCAB];
                    int first = c.tokens.size() - s.tokens().length;
                    for (int t = 0; t < s.tokens().length; t++) {
                        System.arraycopy(logits(c.tokens.subList(0, first + t + 1)), 0, all, t * VOCAB, VOCAB);
                    }
                    yield all;
                }
            };
        }
        calls.add(new int[] {steps.size(), promptTokens, allTokens});
        if (delayMillis > 0) {
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return out;
    }

    @Override
    public void close() {
    }

    static final GemmaTokenizer TOKENIZER = new GemmaTokenizer() {
        @Override
        public int[] encode(String text, boolean addBos) {
            throw new UnsupportedOperationException();
        }

        @Override
        public byte[] tokenBytes(int token) {
            if (token >= 3 && token <= 28) {
                return new byte[] {(byte) ('a' + token - 3)};
            }
            return switch (token) {
                case 29 -> new byte[] {' '};
                case 30 -> new byte[] {(byte) 0xC3};
                case 31 -> new byte[] {(byte) 0xA9};
                default -> new byte[0];
            };
        }

        @Override
        public String decode(int[] tokens) {
            StringBuilder sb = new StringBuilder();
            for (int t : tokens) {
                sb.append(new String(tokenBytes(t), StandardCharsets.UTF_8));
            }
            return sb.toString();
        }

        @Override
        public int vocabSize() {
            return VOCAB;
        }

        @Override
        public int bosId() {
            return 0;
        }

        @Override
        public int eosId() {
            return 1;
        }

        @Override
        public int endOfTurnId() {
            return 2;
        }

        @Override
        public boolean isEndOfGeneration(int token) {
            return token == 1 || token == 2;
        }

        @Override
        public String applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt) {
            throw new UnsupportedOperationException();
        }
    };
}
