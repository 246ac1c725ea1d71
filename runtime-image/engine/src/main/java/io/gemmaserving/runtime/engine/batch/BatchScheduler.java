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
 * Continuous batching: one thread owns the model and runs steps; each step is one {@link Engine#step}
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
 *
 * <p>Prefix caching ({@link PrefixCache}, when {@code prefixCacheBytes > 0}): a new sequence starts from the KV of
 * the longest cached prefix of its prompt and prefills only the rest; the cached entries take what the running
 * sequences leave of the budget and the least recently used go first when a sequence needs room. The choices of a
 * request with n > 1 prefill the prompt once: one of them runs it, the others copy its KV and sample their first
 * token from the same logits.
 *
 * <p>Prompt-lookup speculation ({@code speculativeDraft > 0}): a decoding sequence whose recent tokens occurred
 * earlier in its context feeds the tokens that followed them as a draft, with its last sampled token, in one step
 * with every row's logits. Its sampler then picks token after token from those rows exactly as it would have one
 * step at a time (the same calls in the same order, so the same random draws), and the draft is accepted while it
 * agrees; the cache is cut back after the last accepted one. With a seed the output is what the same request gives
 * without speculation, as long as the engine gives a token the same logits in a step of several rows.
 */
public final class BatchScheduler implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(BatchScheduler.class.getName());

    /**
     * Scheduler limits, from the server's options.
     *
     * @param prefixCacheBytes  most bytes the prefix cache may hold; 0 turns prefix caching off (entries also count
     *                          against the KV budget: they live in what the running sequences leave of it)
     * @param prefixBlock       a prompt's prefill leaves a reusable snapshot of its KV each time it passes a multiple
     *                          of this many tokens, and at its end when it is at least this long
     * @param speculativeDraft  prompt-lookup speculation: most draft tokens verified per decode step; 0 = off
     * @param speculativeNgram  longest n-gram looked up for a draft (then shorter ones, down to 1)
     */
    public record Config(int maxContextLength, int maxConcurrentSequences, int maxWaitingRequests, int prefillChunk,
                         long prefixCacheBytes, int prefixBlock, int speculativeDraft, int speculativeNgram) {
        public Config {
            if (maxContextLength < 2 || maxConcurrentSequences < 1 || maxWaitingRequests < 0 || prefillChunk < 1) {
                throw new IllegalArgumentException("need max-context-length >= 2, max-concurrent-sequences >= 1,"
                        + " max-waiting-requests >= 0, prefill-chunk >= 1");
            }
            if (prefixCacheBytes < 0 || prefixBlock < 1) {
                throw new IllegalArgumentException("need prefix-cache-bytes >= 0 and prefix-cache-block >= 1");
            }
            if (speculativeDraft < 0 || speculativeDraft > MAX_DRAFT || speculativeNgram < 1) {
                throw new IllegalArgumentException("need speculative-ngram in 0.." + MAX_DRAFT
                        + " and speculative-ngram-size >= 1");
            }
        }

        /** Without prefix caching or speculation. */
        public Config(int maxContextLength, int maxConcurrentSequences, int maxWaitingRequests, int prefillChunk) {
            this(maxContextLength, maxConcurrentSequences, maxWaitingRequests, prefillChunk, 0, 256, 0, 3);
        }

        /** The same limits with prefix caching up to {@code bytes} (0 = off), snapshots every {@code block} tokens. */
        public Config withPrefixCache(long bytes, int block) {
            return new Config(maxContextLength, maxConcurrentSequences, maxWaitingRequests, prefillChunk, bytes, block,
                    speculativeDraft, speculativeNgram);
        }

        /** The same limits with prompt-lookup speculation of up to {@code draft} tokens (0 = off). */
        public Config withSpeculation(int draft, int ngram) {
            return new Config(maxContextLength, maxConcurrentSequences, maxWaitingRequests, prefillChunk,
                    prefixCacheBytes, prefixBlock, draft, ngram);
        }

        long kvBudgetTokens() {
            return (long) maxContextLength * maxConcurrentSequences;
        }
    }

    /**
     * Most draft tokens of one speculative step: a rejected draft is taken back by truncating the cache, and a
     * sliding-window ring can only take back as many positions as it keeps spare (32 in the CPU engine).
     */
    public static final int MAX_DRAFT = 16;

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

    // scheduler thread only (admitOrWait runs on it too)
    private final List<Sequence> running = new ArrayList<>();
    private final PrefixCache prefixCache;
    private long reservedTokens;

    // read by metrics from any thread
    private volatile int waitingCount;
    private volatile int runningCount;
    private volatile long usedPositions;
    private volatile long usedBytes;
    private volatile long steps;
    private volatile long prefixQueries;
    private volatile long prefixHits;
    private volatile long prefixCacheBytes;
    private volatile long draftTokens;
    private volatile long acceptedDraftTokens;

    public BatchScheduler(Engine model, Config config) {
        this.model = model;
        this.tokenizer = model.tokenizer();
        this.config = config;
        this.prefixCache = config.prefixCacheBytes() > 0
                ? new PrefixCache(model.info().kvBytesPerToken(), config.prefixCacheBytes()) : null;
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
     * none. Each is an ordinary sequence with its own KV cache and sampler, batched with everything else; the prompt
     * is prefilled once for all of them. Choice {@code i} samples with {@link GenerationParams#choiceSeed} of the
     * request's seed, so choice 0 is what the same request with n = 1 gives and every choice is reproducible.
     * Without a seed each choice draws its own.
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
        Sequence.Choices choices = n > 1 ? new Sequence.Choices() : null;
        for (int i = 0; i < n; i++) {
            long seed = params.seed() != null ? GenerationParams.choiceSeed(params.seed(), i)
                    : ThreadLocalRandom.current().nextLong();
            seqs.add(new Sequence(this, promptCopy, params, listeners.apply(i), seed, choices));
        }
        if (choices != null) {
            choices.members = List.copyOf(seqs);
            choices.unstarted = n;
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

    /** Prompt tokens of admitted sequences, while prefix caching is on (vLLM's {@code prefix_cache_queries}). */
    public long prefixCacheQueries() {
        return prefixQueries;
    }

    /** Of those, the tokens whose KV came from a cached prefix (vLLM's {@code prefix_cache_hits}). */
    public long prefixCacheHits() {
        return prefixHits;
    }

    /** Bytes the prefix cache's entries hold. */
    public long prefixCacheBytes() {
        return prefixCacheBytes;
    }

    /** Draft tokens proposed by prompt lookup so far. */
    public long draftTokens() {
        return draftTokens;
    }

    /** Of those, the ones the model's own choice confirmed. */
    public long acceptedDraftTokens() {
        return acceptedDraftTokens;
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
                List<Sequence> admitted = admitOrWait();
                if (admitted == null) {
                    break;
                }
                for (Sequence seq : admitted) {
                    begin(seq);
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
            if (prefixCache != null) {
                prefixCache.clear();
            }
            for (Sequence seq : left) {
                notifyEnd(seq, FinishReason.CANCELLED);
            }
            runningCount = 0;
            usedPositions = 0;
            usedBytes = 0;
            prefixCacheBytes = 0;
            lock.lock();
            try {
                idle.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Moves waiting requests into free slots (evicting cached prefixes to make room); blocks while there is nothing
     * to do. Returns the sequences admitted now (their caches are set up by {@link #begin}), null once stopped.
     */
    private List<Sequence> admitOrWait() throws InterruptedException {
        lock.lock();
        try {
            List<Sequence> admitted = new ArrayList<>();
            while (true) {
                if (stopped) {
                    return null;
                }
                while (running.size() < config.maxConcurrentSequences() && !waiting.isEmpty()) {
                    Sequence next = waiting.peek();
                    int capacity = (int) Math.min(config.maxContextLength(), (long) next.prompt.length + next.params.maxTokens());
                    long free = config.kvBudgetTokens() - reservedTokens - capacity;
                    if (free < 0) {
                        break;
                    }
                    if (prefixCache != null) {
                        // the prefix it will reuse first: the room it needs must not evict it
                        next.prefix = next.choices == null ? prefixCache.lookup(next.prompt) : null;
                        if (next.prefix != null && prefixCache.cost() > free) {
                            next.takenPrefix = prefixCache.take(next.prefix); // no room for a copy beside it
                        }
                        prefixCache.shrinkTo(free);
                    }
                    waiting.poll();
                    next.reserved = capacity;
                    reservedTokens += capacity;
                    running.add(next);
                    admitted.add(next);
                }
                waitingCount = waiting.size();
                runningCount = running.size();
                if (!running.isEmpty()) {
                    return admitted;
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

    /**
     * Gives an admitted sequence its cache: the prompt's KV from another choice of its request, the longest cached
     * prefix of its prompt, or an empty cache. With prefix caching every cache has the context's capacity, so that
     * an entry copied for a longer prompt holds it (the CPU engine grows its global layers as they fill); the
     * sequence still never writes more than it reserved.
     */
    private void begin(Sequence seq) {
        Sequence.Choices choices = seq.choices;
        if (choices != null) {
            choices.unstarted--;
            if (choices.promptLogits != null) {
                fromChoices(seq, choices.unstarted == 0 ? choices.promptCache : choices.promptCache.copy(seq.prompt.length));
                if (choices.unstarted == 0) {
                    choices.promptCache = null;
                    choices.promptLogits = null;
                }
                return;
            }
            if (choices.leader != null) {
                seq.parked = true; // the leader's prefill serves it
                return;
            }
            choices.leader = seq;
        }
        startFromPrefixCache(seq);
    }

    private void startFromPrefixCache(Sequence seq) {
        if (prefixCache == null) {
            seq.cache = model.newKvCache(seq.reserved);
            return;
        }
        prefixQueries += seq.prompt.length;
        PrefixCache.Match match = seq.prefix;
        seq.prefix = null;
        if (match == null || (seq.takenPrefix == null && !prefixCache.contains(match.entry()))) {
            match = prefixCache.lookup(seq.prompt); // none found at admission, or evicted since
        }
        if (seq.takenPrefix != null) {
            seq.cache = seq.takenPrefix;
            seq.takenPrefix = null;
        } else if (match != null) {
            seq.cache = match.entry().cache.copy(match.reuse());
        } else {
            seq.cache = model.newKvCache(config.maxContextLength());
        }
        if (match != null) {
            seq.prefilled = match.reuse();
            prefixHits += match.reuse();
        }
    }

    /** A choice starts with the prompt's KV and samples its first token from the prompt's logits at the next step. */
    private void fromChoices(Sequence seq, Engine.KvCache promptCache) {
        seq.cache = promptCache;
        seq.prefilled = seq.prompt.length;
        seq.parked = false;
        seq.pendingLogits = seq.choices.promptLogits;
        if (prefixCache != null) {
            prefixQueries += seq.prompt.length;
            prefixHits += seq.prompt.length;
        }
    }

    private void dropCancelled() {
        for (Iterator<Sequence> it = running.iterator(); it.hasNext(); ) {
            Sequence seq = it.next();
            if (seq.cancelled) {
                it.remove();
                release(seq, true);
                notifyEnd(seq, FinishReason.CANCELLED);
            }
        }
    }

    /** One forward pass over the running sequences, then sampling for each that produced logits. */
    private void step() {
        for (Sequence seq : new ArrayList<>(running)) {
            if (seq.pendingLogits != null) {
                float[] l = seq.pendingLogits;
                seq.pendingLogits = null;
                accept(seq, l);
            } else if (seq.parked && seq.choices.leader == null) {
                seq.parked = false; // the choice that was to prefill ended first: this one does it
                seq.choices.leader = seq;
                startFromPrefixCache(seq);
            }
        }
        List<Sequence> batch = new ArrayList<>(running.size());
        List<Step> stepList = new ArrayList<>(running.size());
        List<int[]> drafts = new ArrayList<>(running.size());
        int promptTokens = 0;
        for (Sequence seq : running) {
            if (seq.parked) {
                continue;
            }
            int[] draft = null;
            if (seq.prefilling()) {
                int chunk = config.prefillChunk();
                // chunks stay on the grid k*chunk when a cached prefix ends between two of its points
                int len = Math.min(chunk - seq.prefilled % chunk, seq.prompt.length - seq.prefilled);
                if (promptTokens > 0 && promptTokens + len > chunk) {
                    continue; // its chunk waits for a later step; decodes of the others go on
                }
                promptTokens += len;
                int[] tokens = Arrays.copyOfRange(seq.prompt, seq.prefilled, seq.prefilled + len);
                boolean last = seq.prefilled + len == seq.prompt.length;
                stepList.add(new Step(seq.cache, seq.prefilled, tokens, last ? Engine.Logits.LAST : Engine.Logits.NONE));
            } else {
                int position = seq.prompt.length + seq.generated - 1;
                draft = draftFor(seq, position);
                if (draft.length == 0) {
                    stepList.add(new Step(seq.cache, position, new int[] {seq.nextInput}, Engine.Logits.LAST));
                    draft = null;
                } else {
                    int[] tokens = new int[draft.length + 1];
                    tokens[0] = seq.nextInput;
                    System.arraycopy(draft, 0, tokens, 1, draft.length);
                    stepList.add(new Step(seq.cache, position, tokens, Engine.Logits.ALL));
                }
            }
            batch.add(seq);
            drafts.add(draft);
        }
        if (batch.isEmpty()) {
            return;
        }
        float[][] logits;
        try {
            logits = model.step(stepList);
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "forward pass failed for " + batch.size() + " sequences", e);
            for (Sequence seq : batch) {
                running.remove(seq);
                release(seq, false);
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
                int before = seq.prefilled;
                seq.prefilled += s.tokens().length;
                if (!seq.prefilling()) {
                    shareWithChoices(seq, logits[i]);
                }
                snapshot(seq, before);
                if (s.logits() != Engine.Logits.NONE) {
                    accept(seq, logits[i]);
                }
            } else if (drafts.get(i) == null) {
                accept(seq, logits[i]);
            } else {
                verify(seq, drafts.get(i), logits[i]);
            }
        }
    }

    /** The draft for a decoding sequence: none without speculation, near the end of its budget, or with no match. */
    private int[] draftFor(Sequence seq, int position) {
        if (config.speculativeDraft() == 0 || seq.cancelled) {
            return new int[0];
        }
        int room = Math.min(seq.params.maxTokens() - seq.generated - 1, seq.reserved - position - 1);
        int max = Math.min(config.speculativeDraft(), room);
        if (max < 1) {
            return new int[0];
        }
        return PromptLookup.draft(seq.context(), seq.prompt.length + seq.generated, config.speculativeNgram(), max);
    }

    /**
     * Samples from the rows of a speculative step one after the other, as many as the draft got right plus one, then
     * cuts the cache back to the positions that hold accepted tokens.
     */
    private void verify(Sequence seq, int[] draft, float[] rows) {
        int vocab = rows.length / (draft.length + 1);
        draftTokens += draft.length;
        int accepted = 0;
        for (int j = 0; j <= draft.length; j++) {
            int token = accept(seq, Arrays.copyOfRange(rows, j * vocab, (j + 1) * vocab));
            if (token < 0) {
                break; // ended; release cut the cache back
            }
            if (j == draft.length || token != draft[j]) {
                break;
            }
            accepted++;
        }
        acceptedDraftTokens += accepted;
        if (seq.cache != null) {
            seq.cache.truncate(seq.validLength());
        }
    }

    /** After the prompt of a choice of n > 1 is prefilled: the other choices get its KV and its logits. */
    private void shareWithChoices(Sequence seq, float[] logits) {
        Sequence.Choices choices = seq.choices;
        if (choices == null || choices.leader != seq) {
            return;
        }
        float[] shared = logits.clone(); // the leader's sampler may touch its own array
        choices.promptLogits = shared;
        for (Sequence other : choices.members) {
            if (other.parked && running.contains(other)) {
                fromChoices(other, seq.cache.copy(seq.prompt.length));
            }
        }
        if (choices.unstarted > 0) {
            choices.promptCache = seq.cache.copy(seq.prompt.length);
        } else {
            choices.promptLogits = null;
        }
    }

    /** Leaves a reusable copy of the prompt's KV when the prefill passed a block boundary or ended a long prompt. */
    private void snapshot(Sequence seq, int before) {
        if (prefixCache == null) {
            return;
        }
        int block = config.prefixBlock();
        int after = seq.prefilled;
        boolean end = after == seq.prompt.length;
        if (end ? after >= block : after / block > before / block) {
            Engine.KvCache copy = seq.cache.copy(after);
            prefixCache.insert(Arrays.copyOf(seq.prompt, after), copy, config.kvBudgetTokens() - reservedTokens);
            prefixCacheBytes = prefixCache.bytes();
        }
    }

    /**
     * Samples the next token of {@code seq}, sends its text, and ends the sequence when it is done. Returns the token,
     * or -1 when the sequence ended (or was cancelled) and takes no more.
     */
    private int accept(Sequence seq, float[] logits) {
        if (seq.cancelled) {
            return -1; // dropped at the start of the next step
        }
        int token = seq.sampler.sample(logits);
        seq.record(token);
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
            return -1;
        }
        byte[] bytes = tokenizer.tokenBytes(token);
        String text = seq.text.append(bytes);
        emit(seq, new GenerationListener.GeneratedToken(token, text, bytes, logprob, top));
        if (seq.text.stopped()) {
            finish(seq, FinishReason.STOP);
            return -1;
        }
        // the token would be fed at position prompt + generated - 1: none is left of the reservation
        if (seq.generated >= seq.params.maxTokens() || seq.prompt.length + seq.generated - 1 >= seq.reserved) {
            String rest = seq.text.flush();
            if (!rest.isEmpty()) {
                emit(seq, new GenerationListener.GeneratedToken(-1, rest, new byte[0], Float.NaN, List.of()));
            }
            finish(seq, FinishReason.LENGTH);
            return -1;
        }
        seq.nextInput = token;
        return token;
    }

    private void emit(Sequence seq, GenerationListener.GeneratedToken token) {
        safely(() -> seq.listener.onToken(token));
    }

    private void finish(Sequence seq, FinishReason reason) {
        running.remove(seq);
        release(seq, true);
        notifyEnd(seq, reason);
    }

    /**
     * Frees the sequence's reservation; with prefix caching its cache, cut back to the positions that hold its
     * tokens, becomes an entry (unless {@code keep} is false: a failed step may have left it half written).
     */
    private void release(Sequence seq, boolean keep) {
        if (seq.choices != null && seq.choices.leader == seq && seq.prefilling()) {
            seq.choices.leader = null; // a parked choice takes over the prefill
        }
        reservedTokens -= seq.reserved;
        seq.reserved = 0;
        Engine.KvCache cache = seq.cache;
        seq.cache = null;
        if (cache == null || prefixCache == null || !keep) {
            return;
        }
        int valid = seq.validLength();
        if (valid == 0 || valid < cache.rewindLimit()) {
            return;
        }
        if (valid < cache.length()) {
            cache.truncate(valid);
        }
        prefixCache.insert(Arrays.copyOf(seq.context(), valid), cache, config.kvBudgetTokens() - reservedTokens);
        prefixCacheBytes = prefixCache.bytes();
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
            if (seq.cache != null) {
                positions += seq.cache.length();
                bytes += seq.cache.bytes();
            }
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
