package io.gemmaserving.runtime.engine;

/** The engine asked for cannot run on this machine; the message says what is missing, in one line. */
public final class EngineUnavailableException extends RuntimeException {

    public EngineUnavailableException(String message) {
        super(message);
    }
}
