package io.gemmaserving.runtime.engine.batch;

import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.Engine.Step;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;

/**
 * Continuous batching: one thread owns the model and runs steps; each step is one {@link Engine#forward}
 * over every running sequence, a decode token for each sequence that is generating and a prompt chunk for each that
 * is still prefilling. New requests join at the next step and finished ones leave, so requests never wait for a
 * whole batch to end.
 *
 * <p>Shapes per step: running sequences {@code <= maxConcurrentSequences}; prompt tokens {@code <= prefillChunk}
 * (a sequence's chunks are always {@code prompt[k*chunk, (k+1)*chunk)}: which step runs a chunk may depend on
 * the other requests, but the chunks themselves never do, so with a seed the output is the same alone or batched).
 *
 * <p>Budget: the KV cache holds at most {@code maxContextLength x maxConcurrentSequences} positions; a sequence
 * reserves {@code min(maxContextLength, prompt + max_tokens)} positions when admitted. Requests beyond
 * {@code maxWaitingRequests} are refused with {@link QueueFullException}.
 */
public final class BatchScheduler implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(BatchScheduler.class.getName());

    /** Scheduler limits, from the server's options. */
    public record Config(int maxContextLength, int maxConcurrentSequences, int maxWaitingRequests, int prefillChunk) {
        public Config {
            if (maxContextLength < 2 || maxConcurrentSequences < 1 || maxWaitingRequests < 0 || prefillChunk < 1) {
                throw new IllegalArgumentException("need max-context-length >= 2, max-concurrent-sequences >= 1,"
                        + " max-waiting-requests >= 0, prefill-chunk >= 1");
            }
        }

        long kvBudgetTokens() {
            return (long) maxContextLength * maxConcurrentSequences;
        }
    }

    /** A submitted request: cancelling frees its sequence at the next step boundary. */
    public interface Handle {
        void cancel();
    }

    private final Engine model;
    private final GemmaTokenizer tokenizer;
    private final Config config;
    private final Thread thread;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final Condition idle = lock.newCondition();
    // guarded by lock
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    private boolean accepting = true;
    private boolean stopped;
    private boolean wakeRequested;

    // scheduler thread only
    private final List<Sequence> running = new ArrayList<>();
    private long reservedTokens;

    // read by metrics from any thread
    private volatile int waitingCount;
    private volatile int runningCount;
    private volatile long usedPositions;
    private volatile long usedBytes;
    private volatile long steps;

    public BatchScheduler(Engine model, Config config) {
        this.model = model;
        this.tokenizer = model.tokenizer();
        this.config = config;
        this.thread = Thread.ofPlatform().name("gemma-scheduler").daemon(true).unstarted(this::loop);
    }

    public BatchScheduler start() {
        thread.start();
        return this;
    }

    public Config config() {
        return config;
    }

    /**
     * Queues a request. The listener hears every token and the end on the scheduler thread.
     *
     * @throws QueueFullException       when {@code maxWaitingRequests} are already waiting, or the scheduler drains
     * @throws IllegalArgumentException when the prompt is empty or leaves no room to generate in the context
     */
    public Handle submit(int[] prompt, GenerationParams params, GenerationListener listener) throws QueueFullException {
        return submit(prompt, params, 1, i -> listener);
    }

    /**
     * Queues {@code n} sequences for one request (OpenAI's {@code n}: several choices for the same prompt), all or
     * none. Each is an ordinary sequence with its own KV cache and sampler, batched with everything else; choice
     * {@code i} samples with {@link GenerationParams#choiceSeed} of the request's seed, so choice 0 is what the same
     * request with n = 1 gives and every choice is reproducible. Without a seed each choice draws its own.
     *
     * @param listeners the listener of choice {@code i} (0..n-1)
     * @return one handle that cancels every choice
     * @throws QueueFullException       when the n sequences do not fit in the queue, or the scheduler drains
     * @throws IllegalArgumentException when the prompt is empty or leaves no room to generate in the context, or n
     *                                  is beyond what the queue and the running slots can ever hold
     */
    public Handle submit(int[] prompt, GenerationParams params, int n, IntFunction<GenerationListener> listeners)
            throws QueueFullException {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        if (prompt.length >= config.maxContextLength()) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; this server's context is "
                    + config.maxContextLength() + " tokens (prompt plus at least one generated token)");
        }
        if (n < 1 || n > maxChoices()) {
            throw new IllegalArgumentException("n must be between 1 and " + maxChoices() + " on this server, got " + n);
        }
        List<Sequence> seqs = new ArrayList<>(n);
        int[] promptCopy = prompt.clone();
        for (int i = 0; i < n; i++) {
            long seed = params.seed() != null ? GenerationParams.choiceSeed(params.seed(), i)
                    : ThreadLocalRandom.current().nextLong();
            seqs.add(new Sequence(this, promptCopy, params, listeners.apply(i), seed));
        }
        lock.lock();
        try {
            if (!accepting) {
                throw new QueueFullException("the server is shutting down", true);
            }
            int w = waiting.size();
            if (w + n > config.maxWaitingRequests() && runningCount + w + n > config.maxConcurrentSequences()) {
                throw new QueueFullException("too many requests waiting (" + w + "); retry later", false);
            }
            waiting.addAll(seqs);
            waitingCount = waiting.size();
            wakeRequested = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
        return n == 1 ? seqs.get(0) : () -> seqs.forEach(Sequence::cancel);
    }

    /** The largest n one request may ask for: what the queue or the running slots can hold at once. */
    public int maxChoices() {
        return Math.max(config.maxWaitingRequests(), config.maxConcurrentSequences());
    }

    public int waitingRequests() {
        return waitingCount;
    }

    public int runningRequests() {
        return runningCount;
    }

    /** Fraction of the KV budget ({@code maxContextLength x maxConcurrentSequences} positions) written. */
    public double kvCacheUsage() {
        return (double) usedPositions / config.kvBudgetTokens();
    }

    /** Bytes the running sequences' caches hold (as the caches report). */
    public long kvCacheBytes() {
        return usedBytes;
    }

    /** Forward passes run so far. */
    public long steps() {
        return steps;
    }

    /**
     * Stops taking requests, lets waiting and running ones finish within {@code timeout}, then cancels what is left
     * and stops the thread. Returns true when everything finished in time.
     */
    public boolean drain(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean finished;
        lock.lock();
        try {
            accepting = false;
            while (!(waiting.isEmpty() && runningCount == 0)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                idle.awaitNanos(left);
            }
            finished = waiting.isEmpty() && runningCount == 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            finished = false;
        } finally {
            lock.unlock();
        }
        close();
        return finished;
    }

    /** Cancels everything still queued or running and stops the scheduler thread. */
    @Override
    public void close() {
        lock.lock();
        try {
            accepting = false;
            stopped = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void cancelled(Sequence seq) {
        lock.lock();
        try {
            if (waiting.remove(seq)) {
                waitingCount = waiting.size();
                notifyEnd(seq, FinishReason.CANCELLED);
                if (waiting.isEmpty() && runningCount == 0) {
                    idle.signalAll();
                }
            }
            wakeRequested = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
    }

    private void loop() {
        try {
            while (true) {
                if (!admitOrWait()) {
                    break;
                }
                dropCancelled();
                if (!running.isEmpty()) {
                    step();
                }
                publishGauges();
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "scheduler thread failed", t);
        } finally {
            // stopped: end whatever is left so no client hangs
            List<Sequence> left = new ArrayList<>(running);
            lock.lock();
            try {
                left.addAll(waiting);
                waiting.clear();
                waitingCount = 0;
                stopped = true;
                accepting = false;
            } finally {
                lock.unlock();
            }
            running.clear();
            for (Sequence seq : left) {
                notifyEnd(seq, FinishReason.CANCELLED);
            }
            runningCount = 0;
            usedPositions = 0;
            usedBytes = 0;
            lock.lock();
            try {
                idle.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Moves waiting requests into free slots; blocks while there is nothing to do. False once stopped. */
    private boolean admitOrWait() throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                if (stopped) {
                    return false;
                }
                while (running.size() < config.maxConcurrentSequences() && !waiting.isEmpty()) {
                    Sequence next = waiting.peek();
                    int capacity = (int) Math.min(config.maxContextLength(), (long) next.prompt.length + next.params.maxTokens());
                    if (reservedTokens + capacity > config.kvBudgetTokens()) {
                        break;
                    }
                    waiting.poll();
                    next.cache = model.newKvCache(capacity);
                    reservedTokens += capacity;
                    running.add(next);
                }
                waitingCount = waiting.size();
                runningCount = running.size();
                if (!running.isEmpty()) {
                    return true;
                }
                idle.signalAll();
                if (!wakeRequested) {
                    wake.await();
                }
                wakeRequested = false;
            }
        } finally {
            lock.unlock();
        }
    }

    private void dropCancelled() {
        for (Iterator<Sequence> it = running.iterator(); it.hasNext(); ) {
            Sequence seq = it.next();
            if (seq.cancelled) {
                it.remove();
                release(seq);
                notifyEnd(seq, FinishReason.CANCELLED);
            }
        }
    }

    /** One forward pass over the running sequences, then sampling for each that produced logits. */
    private void step() {
        List<Sequence> batch = new ArrayList<>(running.size());
        List<Step> stepList = new ArrayList<>(running.size());
        int promptTokens = 0;
        for (Sequence seq : running) {
            if (seq.prefilling()) {
                int len = Math.min(config.prefillChunk(), seq.prompt.length - seq.prefilled);
                if (promptTokens > 0 && promptTokens + len > config.prefillChunk()) {
                    continue; // its chunk waits for a later step; decodes of the others go on
                }
                promptTokens += len;
                int[] chunk = Arrays.copyOfRange(seq.prompt, seq.prefilled, seq.prefilled + len);
                stepList.add(new Step(seq.cache, chunk, seq.prefilled + len == seq.prompt.length));
            } else {
                stepList.add(new Step(seq.cache, new int[] {seq.nextInput}, true));
            }
            batch.add(seq);
        }
        float[][] logits;
        try {
            logits = model.step(stepList);
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "forward pass failed for " + batch.size() + " sequences", e);
            for (Sequence seq : batch) {
                running.remove(seq);
                release(seq);
                seq.done = true;
                safely(() -> seq.listener.onError("inference failed: " + e));
            }
            return;
        }
        steps++;
        for (int i = 0; i < batch.size(); i++) {
            Sequence seq = batch.get(i);
            Step s = stepList.get(i);
            if (seq.prefilling()) {
                seq.prefilled += s.tokens().length;
            }
            if (s.logits() != Engine.Logits.NONE) {
                accept(seq, logits[i]);
            }
        }
    }

    /** Samples the next token of {@code seq}, sends its text, and ends the sequence when it is done. */
    private void accept(Sequence seq, float[] logits) {
        if (seq.cancelled) {
            return; // dropped at the start of the next step
        }
        int token = seq.sampler.sample(logits);
        seq.generated++;
        float logprob = Float.NaN;
        List<GenerationListener.TopLogprob> top = List.of();
        if (seq.params.logprobs()) {
            double lse = TokenSampler.logSumExp(logits);
            logprob = (float) (logits[token] - lse);
            if (seq.params.topLogprobs() > 0) {
                List<GenerationListener.TopLogprob> list = new ArrayList<>();
                for (int id : TokenSampler.topK(logits, seq.params.topLogprobs())) {
                    list.add(new GenerationListener.TopLogprob(id, tokenizer.tokenBytes(id), (float) (logits[id] - lse)));
                }
                top = list;
            }
        }
        if (tokenizer.isEndOfGeneration(token)) {
            String rest = seq.text.flush();
            if (!rest.isEmpty()) {
                emit(seq, new GenerationListener.GeneratedToken(-1, rest, new byte[0], Float.NaN, List.of()));
            }
            finish(seq, FinishReason.STOP);
            return;
        }
        byte[] bytes = tokenizer.tokenBytes(token);
        String text = seq.text.append(bytes);
        emit(seq, new GenerationListener.GeneratedToken(token, text, bytes, logprob, top));
        if (seq.text.stopped()) {
            finish(seq, FinishReason.STOP);
            return;
        }
        if (seq.generated >= seq.params.maxTokens() || seq.cache.length() >= seq.cache.capacity()) {
            String rest = seq.text.flush();
            if (!rest.isEmpty()) {
                emit(seq, new GenerationListener.GeneratedToken(-1, rest, new byte[0], Float.NaN, List.of()));
            }
            finish(seq, FinishReason.LENGTH);
            return;
        }
        seq.nextInput = token;
    }

    private void emit(Sequence seq, GenerationListener.GeneratedToken token) {
        safely(() -> seq.listener.onToken(token));
    }

    private void finish(Sequence seq, FinishReason reason) {
        running.remove(seq);
        release(seq);
        notifyEnd(seq, reason);
    }

    private void release(Sequence seq) {
        if (seq.cache != null) {
            reservedTokens -= seq.cache.capacity();
            seq.cache = null;
        }
    }

    private void notifyEnd(Sequence seq, FinishReason reason) {
        if (seq.done) {
            return;
        }
        seq.done = true;
        safely(() -> seq.listener.onComplete(reason, seq.prompt.length, seq.generated));
    }

    private void publishGauges() {
        long positions = 0;
        long bytes = 0;
        for (Sequence seq : running) {
            positions += seq.cache.length();
            bytes += seq.cache.bytes();
        }
        usedPositions = positions;
        usedBytes = bytes;
        lock.lock();
        try {
            runningCount = running.size();
            waitingCount = waiting.size();
            if (running.isEmpty() && waiting.isEmpty()) {
                idle.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    private static void safely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "a generation listener failed", e);
        }
    }
}
