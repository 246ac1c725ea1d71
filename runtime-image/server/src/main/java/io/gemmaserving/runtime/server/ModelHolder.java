package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.Engines;
import io.gemmaserving.runtime.engine.ServeOptions;
import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import io.gemmaserving.runtime.engine.batch.FinishReason;
import io.gemmaserving.runtime.engine.batch.GenerationListener;
import io.gemmaserving.runtime.engine.batch.GenerationParams;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Owns the engine and the scheduler. Loading runs on its own thread so the HTTP server (startup probe, metrics)
 * answers meanwhile; readiness turns true only after the weights are loaded AND the warm-up generations ran.
 *
 * <p>A start-up failure (a backend that cannot run here, a file that is not a Gemma, an unreadable API key) ends the
 * process with exit code 1 after one line on stderr, also written to the termination-message file: Kubernetes then
 * shows the pod in CrashLoopBackOff with that line as its termination message, which the operator reports. A server
 * that stayed up without a model would pass its liveness probe and hide the reason.
 */
@ApplicationScoped
public class ModelHolder {

    private static final Logger LOG = Logger.getLogger(ModelHolder.class);

    /** Opens a model on an engine: {@link Engines#open} in the server, a fake in tests of the wiring. */
    @FunctionalInterface
    interface EngineFactory {
        Engine open(Path model, EngineOptions options) throws Exception;
    }

    private volatile ServeOptions options;
    private volatile Engine model;
    private volatile BatchScheduler scheduler;
    private volatile String servedName;
    private volatile boolean loaded;
    private volatile boolean warmedUp;
    private volatile boolean draining;
    private volatile byte[] apiKey;

    /** Tells the metrics the scheduler's limits (null in tests that build this class without CDI). */
    @Inject
    Event<SchedulerStarted> schedulerStarted;

    void onStart(@Observes StartupEvent event) {
        ServeOptions o = ServerMain.options;
        if (o == null) {
            StartupFailure.exit(null, "started without options (run through ServerMain)");
            return;
        }
        Thread.ofPlatform().name("gemma-model-load").daemon(true)
                .start(() -> start(o, Engines::open, line -> StartupFailure.exit(o.terminationMessagePath, line)));
    }

    /**
     * Reads the API key, opens the model with {@code engines} and the engine options of {@code o}, starts the
     * scheduler and warms it up. On failure, hands one line to {@code onFailure} and returns.
     */
    void start(ServeOptions o, EngineFactory engines, Consumer<String> onFailure) {
        options = o;
        servedName = o.servedModelName != null ? o.servedModelName : defaultName(o.model);
        try {
            if (o.apiKeyFile != null) {
                apiKey = Files.readString(o.apiKeyFile).strip().getBytes(StandardCharsets.UTF_8);
                LOG.infof("API key required (from %s)", o.apiKeyFile);
            } else {
                LOG.warn("No --api-key-file: the API is open to every client that reaches this port");
            }
            load(o, engines);
        } catch (Throwable e) {
            LOG.debug("start-up failed", e);
            onFailure.accept(StartupFailure.line(o.model, e));
        }
    }

    private void load(ServeOptions o, EngineFactory engines) throws Exception {
        long t0 = System.nanoTime();
        Engine m = engines.open(o.model, o.engineOptions());
        model = m;
        int context = Math.min(o.maxContextLength, m.info().contextLength());
        if (context < o.maxContextLength) {
            LOG.warnf("--max-context-length %d is beyond the model's %d: using %d",
                    o.maxContextLength, m.info().contextLength(), context);
        }
        scheduler = new BatchScheduler(m, schedulerConfig(o, context, m.info().kvBytesPerToken())).start();
        if (schedulerStarted != null) {
            schedulerStarted.fire(new SchedulerStarted(scheduler));
        }
        loaded = true;
        LOG.infof("Loaded %s (%s, %.1f MB of weights) in %.1f s on %s; context %d x %d sequences, KV %.1f MB at most",
                servedName, m.info().architecture(), m.info().weightBytes() / 1e6, (System.nanoTime() - t0) / 1e9,
                m.description(), context, o.maxConcurrentSequences,
                m.info().kvBytesPerToken() * (double) context * o.maxConcurrentSequences / 1e6);
        BatchScheduler.Config c = scheduler.config();
        LOG.infof("Prefix caching %s; prompt-lookup speculation %s",
                c.prefixCacheBytes() == 0 ? "off" : String.format("up to %.1f MB, a snapshot every %d prompt tokens",
                        c.prefixCacheBytes() / 1e6, c.prefixBlock()),
                c.speculativeDraft() == 0 ? "off" : String.format("up to %d draft tokens, n-grams of %d..1",
                        c.speculativeDraft(), c.speculativeNgram()));
        warmUp(o.maxConcurrentSequences, context);
    }

    /**
     * The scheduler's limits from the options. Prefix caching with no byte limit of its own may hold the whole KV
     * budget ({@code context x sequences x kvBytesPerToken}): the running sequences take it back as they need it.
     */
    static BatchScheduler.Config schedulerConfig(ServeOptions o, int context, long kvBytesPerToken) {
        long budgetBytes = kvBytesPerToken * context * (long) o.maxConcurrentSequences;
        long prefixBytes = !o.prefixCaching ? 0 : o.prefixCacheBytes > 0 ? o.prefixCacheBytes : Math.max(1, budgetBytes);
        return new BatchScheduler.Config(context, o.maxConcurrentSequences, o.maxWaitingRequests, o.prefillChunk)
                .withPrefixCache(prefixBytes, o.prefixCacheBlock)
                .withSpeculation(o.speculativeNgram, o.speculativeNgramSize);
    }

    /** Warm-up rounds at most, and the time after which no new round starts. */
    static final int WARM_UP_ROUNDS = 4;
    static final long WARM_UP_BUDGET_NANOS = TimeUnit.SECONDS.toNanos(30);

    /**
     * Generations through the scheduler before the server says it is ready, so that the first requests do not pay for
     * the JIT: a round is one sequence alone, then two at once (the batch-1 and the batched kernels), each a 32-token
     * prompt and 16 greedy tokens (a shorter prompt when the context is under 64). Rounds repeat until one is no more
     * than 10 % faster than the one before (the kernels are compiled), at most {@value #WARM_UP_ROUNDS}, and none
     * starts after 30 s. On the 270M (2 threads) this brings the first streamed 16-token completion after ready from
     * about 1.2 s (295 ms to its first token) with a single 2-token generation down to 0.5-0.7 s (124-166 ms).
     */
    private void warmUp(int maxSequences, int context) throws Exception {
        long t0 = System.nanoTime();
        int[] prompt = model.tokenizer().encode("The quick brown fox jumps over the lazy dog. ".repeat(4), true);
        prompt = java.util.Arrays.copyOf(prompt, Math.max(1, Math.min(prompt.length, Math.min(32, context / 2))));
        long previous = Long.MAX_VALUE;
        long took = 0;
        int rounds = 0;
        while (rounds < WARM_UP_ROUNDS && System.nanoTime() - t0 < WARM_UP_BUDGET_NANOS) {
            long r0 = System.nanoTime();
            warmUpRound(prompt, 1, 3 * rounds); // decode alone: the batch-1 kernels
            if (maxSequences > 1) {
                warmUpRound(prompt, 2, 3 * rounds + 1); // decode together: the batched ones
            }
            took = System.nanoTime() - r0;
            rounds++;
            if (took > previous * 0.9) {
                break;
            }
            previous = took;
        }
        warmedUp = true;
        LOG.infof("Warm-up done in %.2f s (%d rounds, the last %.2f s): ready", (System.nanoTime() - t0) / 1e9, rounds,
                took / 1e9);
    }

    /**
     * {@code sequences} greedy generations of 16 tokens at once; returns when all are done. Generation {@code i} puts
     * a token of its own ({@code variant + i} ids after the prompt's) second, so that no generation finds another's
     * prompt in the prefix cache and each one runs its prefill.
     */
    private void warmUpRound(int[] prompt, int sequences, int variant) throws Exception {
        CompletableFuture<?>[] done = new CompletableFuture<?>[sequences];
        for (int i = 0; i < sequences; i++) {
            CompletableFuture<FinishReason> d = new CompletableFuture<>();
            done[i] = d;
            int[] own = prompt.clone();
            int at = Math.min(1, own.length - 1);
            own[at] = (own[at] + 1 + variant + i) % model.info().vocabSize();
            scheduler.submit(own, GenerationParams.greedy(16), GenerationListener.completing(token -> { }, d));
        }
        CompletableFuture.allOf(done).get(10, TimeUnit.MINUTES);
    }

    void onStop(@Observes ShutdownEvent event) {
        draining = true;
        BatchScheduler s = scheduler;
        if (s != null) {
            int seconds = options.drainTimeoutSeconds;
            LOG.infof("Draining: %d waiting, %d running; up to %d s", s.waitingRequests(), s.runningRequests(), seconds);
            boolean clean = s.drain(Duration.ofSeconds(seconds));
            LOG.infof(clean ? "Drained" : "Drain time-out: the rest was cancelled");
        }
        Engine m = model;
        if (m != null) {
            m.close();
        }
    }

    private static String defaultName(Path model) {
        String name = model.getFileName() == null ? model.toString() : model.getFileName().toString();
        return name.endsWith(".gguf") ? name.substring(0, name.length() - 5) : name;
    }

    public ServeOptions options() {
        return options;
    }

    public Engine model() {
        return model;
    }

    public BatchScheduler scheduler() {
        return scheduler;
    }

    public String servedName() {
        return servedName;
    }

    public boolean loaded() {
        return loaded;
    }

    public boolean ready() {
        return loaded && warmedUp && !draining;
    }

    public boolean draining() {
        return draining;
    }

    /** The API key's bytes, or null when the server is open. */
    byte[] apiKey() {
        return apiKey;
    }
}
