package io.gemmaserving.runtime.engine.batch;

/** Why a sequence ended; {@link #apiName} is the OpenAI {@code finish_reason}. */
public enum FinishReason {
    /** End of turn, end of sequence, or a stop string. */
    STOP("stop"),
    /** max_tokens reached, or the context is full. */
    LENGTH("length"),
    /** The client went away or the server shut down before the end. */
    CANCELLED("cancelled"),
    /** The forward pass failed. */
    ERROR("error");

    private final String apiName;

    FinishReason(String apiName) {
        this.apiName = apiName;
    }

    public String apiName() {
        return apiName;
    }
}
