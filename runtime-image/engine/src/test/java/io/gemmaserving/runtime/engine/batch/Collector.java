package io.gemmaserving.runtime.engine.batch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Gathers one request's output for assertions. */
final class Collector implements GenerationListener {

    final List<Integer> tokens = new ArrayList<>();
    final List<Float> logprobs = new ArrayList<>();
    final StringBuilder text = new StringBuilder();
    final CompletableFuture<FinishReason> done = new CompletableFuture<>();
    volatile int completionTokens = -1;

    @Override
    public synchronized void onToken(GeneratedToken token) {
        if (token.id() >= 0) {
            tokens.add(token.id());
            logprobs.add(token.logprob());
        }
        text.append(token.text());
    }

    @Override
    public void onComplete(FinishReason reason, int promptTokens, int completionTokens) {
        this.completionTokens = completionTokens;
        done.complete(reason);
    }

    @Override
    public void onError(String message) {
        done.completeExceptionally(new AssertionError(message));
    }

    FinishReason await() throws Exception {
        return done.get(20, TimeUnit.SECONDS);
    }

    synchronized String result() {
        return tokens + " " + text;
    }
}
