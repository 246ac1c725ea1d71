package io.gemmaserving.runtime.engine.backend;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed set of threads that run the chunks of one parallel loop, the calling thread taking its share.
 *
 * <p>Decode runs a few hundred small matrix products per token, each some tens of microseconds, so handing work
 * out must cost far less than an executor's submit/get: workers spin on the published job for a short while
 * ({@code spinNanos}, yielding now and then) after each loop and park only when no new loop comes. Chunks are
 * claimed from an atomic cursor that carries the job's number, so a worker that wakes late cannot take a chunk of
 * a later job by mistake. The caller waits for chunks, not for workers: if the OS has descheduled a worker (other
 * processes, a CPU quota), the caller takes every chunk the worker did not claim and never waits for it to wake.
 */
final class WorkerPool implements AutoCloseable {

    /** The loop body: runs chunk {@code c}. */
    interface Body {
        void run(int chunk);
    }

    /** One parallel loop; immutable, published through a volatile field. */
    private record Job(int id, Body body, int chunks) {
    }

    private final Thread[] workers;
    private final long spinNanos;
    private final ReentrantLock callerLock = new ReentrantLock();
    /** High 32 bits: id of the job being run; low 32 bits: next chunk to claim. */
    private final AtomicLong cursor = new AtomicLong();
    /** Chunks of the current job finished (or skipped after a failure). */
    private final AtomicInteger done = new AtomicInteger();
    private volatile Job job = new Job(0, c -> { }, 0);
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
            Job j = new Job(job.id() + 1, b, nChunks);
            failure = null;
            done.set(0);
            cursor.set((long) j.id() << 32);
            job = j; // publishes the job: workers see it, and claim chunks only while the cursor carries its id
            for (Thread t : workers) {
                LockSupport.unpark(t);
            }
            work(j);
            // the workers' last chunks: spin a little, then yield, so that a worker the OS has descheduled in the
            // middle of a chunk gets the core back instead of watching us spin
            for (int spins = 0; done.get() < nChunks; spins++) {
                if (spins < 2000) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
            Throwable t = failure;
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

    /** Claims and runs chunks of {@code j} until none is left. */
    private void work(Job j) {
        while (true) {
            long c = cursor.get();
            int chunk = (int) c;
            if ((int) (c >>> 32) != j.id() || chunk >= j.chunks()) {
                return;
            }
            if (!cursor.compareAndSet(c, c + 1)) {
                continue;
            }
            try {
                if (failure == null) {
                    j.body().run(chunk);
                }
            } catch (Throwable t) {
                failure = t;
            } finally {
                done.incrementAndGet();
            }
        }
    }

    private void workerLoop() {
        int seen = 0;
        while (true) {
            long start = System.nanoTime();
            int spins = 0;
            Job j;
            while ((j = job).id() == seen && !closed) {
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
            seen = j.id();
            work(j);
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
