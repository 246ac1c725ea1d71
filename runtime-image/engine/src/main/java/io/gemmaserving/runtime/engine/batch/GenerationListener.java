package io.gemmaserving.runtime.engine.batch;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Receives one request's output, called on the scheduler thread: implementations must return quickly (hand the
 * text to an event loop, never block on a socket). Exactly one of {@link #onComplete} or {@link #onError} ends it.
 */
public interface GenerationListener {

    /**
     * One generated token. {@code text} is the text it completes: it may be empty while a multi-byte character or a
     * possible stop string is still incomplete, and it may hold text of earlier tokens released now.
     */
    void onToken(GeneratedToken token);

    /** The sequence ended normally (stop, length) or was cancelled; counts are tokens. */
    void onComplete(FinishReason reason, int promptTokens, int completionTokens);

    /** The sequence failed; message is one line for the client. */
    void onError(String message);

    /**
     * A listener that hands each token to {@code tokens} and ends {@code done}: with the finish reason, or
     * exceptionally with the error's one line.
     */
    static GenerationListener completing(Consumer<GeneratedToken> tokens, CompletableFuture<FinishReason> done) {
        return new GenerationListener() {
            @Override
            public void onToken(GeneratedToken token) {
                tokens.accept(token);
            }

            @Override
            public void onComplete(FinishReason reason, int promptTokens, int completionTokens) {
                done.complete(reason);
            }

            @Override
            public void onError(String message) {
                done.completeExceptionally(new IllegalStateException(message));
            }
        };
    }

    /**
     * @param id          token id
     * @param text        text released with this token (see {@link #onToken})
     * @param bytes       the token's own bytes (for logprobs' {@code bytes} field)
     * @param logprob     log-probability of the token under the model's raw distribution (NaN when not requested)
     * @param top         most likely alternatives when requested, best first; empty otherwise
     */
    record GeneratedToken(int id, String text, byte[] bytes, float logprob, List<TopLogprob> top) {
    }

    record TopLogprob(int id, byte[] bytes, float logprob) {
    }
}
