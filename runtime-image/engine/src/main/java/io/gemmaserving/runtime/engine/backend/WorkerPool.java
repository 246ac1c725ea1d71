package io.gemmaserving.runtime.engine.backend;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed set of threads that run the chunks of one parallel loop, the calling thread taking its share.
 *
 * <p>Decode runs a few hundred small matrix products per token, each some tens of microseconds, so handing work
 * out must cost far less than an executor's submit/get: workers spin on a volatile epoch for a short while
 * ({@code spinNanos}) after each loop and park only when no new loop comes. Chunks are claimed from an atomic
 * counter, so faster threads take more of them.
 */
final class WorkerPool implements AutoCloseable {

    /** The loop body: runs chunk {@code c}. */
    interface Body {
        void run(int chunk);
    }

    private final Thread[] workers;
    private final long spinNanos;
    private final ReentrantLock callerLock = new ReentrantLock();
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger finished = new AtomicInteger();
    private volatile Body body;
    private volatile int chunks;
    private volatile long epoch;
    private volatile boolean closed;
    private volatile Throwable failure;

    /** {@code threads} in all, the caller included: starts {@code threads - 1} daemon workers. */
    WorkerPool(int threads, long spinNanos) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.spinNanos = spinNanos;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("gemma-matmul-" + (i + 1)).start(this::workerLoop);
        }
    }

    int threads() {
        return workers.length + 1;
    }

    /** Runs {@code b.run(c)} for every {@code c < nChunks} across the pool; returns when all are done. */
    void run(int nChunks, Body b) {
        if (workers.length == 0 || nChunks <= 1) {
            for (int c = 0; c < nChunks; c++) {
                b.run(c);
            }
            return;
        }
        callerLock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("worker pool is closed");
            }
            body = b;
            chunks = nChunks;
            failure = null;
            next.set(0);
            finished.set(0);
            epoch = epoch + 1; // publishes the fields above to the workers
            for (Thread t : workers) {
                LockSupport.unpark(t);
            }
            Throwable own = null;
            try {
                work(b, nChunks);
            } catch (Throwable t) {
                own = t;
                next.set(Integer.MAX_VALUE / 2);
            }
            // wait for the workers' last chunks: spin a little, then yield, so that a worker the OS has
            // descheduled (another process on the core, a CPU quota) gets the core back instead of watching us spin
            for (int spins = 0; finished.get() < workers.length; spins++) {
                if (spins < 2000) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
            body = null;
            Throwable t = own != null ? own : failure;
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error er) {
                throw er;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
        } finally {
            callerLock.unlock();
        }
    }

    private void work(Body b, int n) {
        int c;
        while ((c = next.getAndIncrement()) < n) {
            b.run(c);
        }
    }

    private void workerLoop() {
        long seen = 0;
        while (true) {
            long start = System.nanoTime();
            int spins = 0;
            long e;
            while ((e = epoch) == seen && !closed) {
                if ((++spins & 255) != 0) {
                    Thread.onSpinWait();
                } else if (System.nanoTime() - start < spinNanos) {
                    Thread.yield(); // lets a runnable thread (the caller, the JIT) have the core while we wait
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = e;
            try {
                work(body, chunks);
            } catch (Throwable t) {
                failure = t;
                next.set(Integer.MAX_VALUE / 2);
            } finally {
                finished.incrementAndGet();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : workers) {
            LockSupport.unpark(t);
        }
        for (Thread t : workers) {
            try {
                t.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
