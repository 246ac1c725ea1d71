package io.gemmaserving.runtime.engine.batch;

/** The waiting queue is at its bound (or the scheduler is draining): the caller should answer 429 / 503. */
public final class QueueFullException extends Exception {

    private final boolean shuttingDown;

    public QueueFullException(String message, boolean shuttingDown) {
        super(message, null, false, false);
        this.shuttingDown = shuttingDown;
    }

    public boolean shuttingDown() {
        return shuttingDown;
    }
}
