package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.ServeOptions;
import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import io.gemmaserving.runtime.engine.batch.FinishReason;
import io.gemmaserving.runtime.engine.batch.GenerationListener;
import io.gemmaserving.runtime.engine.batch.GenerationParams;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Owns the model and the scheduler. Loading runs on its own thread so the HTTP server (liveness, startup probes)
 * answers meanwhile; readiness turns true only after the weights are loaded AND one warm-up generation ran.
 */
@ApplicationScoped
public class ModelHolder {

    private static final Logger LOG = Logger.getLogger(ModelHolder.class);

    private volatile ServeOptions options;
    private volatile Engine model;
    private volatile BatchScheduler scheduler;
    private volatile String servedName;
    private volatile boolean loaded;
    private volatile boolean warmedUp;
    private volatile boolean draining;
    private volatile String failure;
    private volatile byte[] apiKey;

    void onStart(@Observes StartupEvent event) {
        options = ServerMain.options;
        if (options == null) {
            failure = "started without options (run through ServerMain)";
            LOG.error(failure);
            return;
        }
        servedName = options.servedModelName != null ? options.servedModelName : defaultName(options.model);
        if (options.apiKeyFile != null) {
            try {
                apiKey = Files.readString(options.apiKeyFile).strip().getBytes(StandardCharsets.UTF_8);
            } catch (Exception e) {
                failure = "cannot read --api-key-file: " + e.getMessage();
            }
            LOG.infof("API key required (from %s)", options.apiKeyFile);
        } else {
            LOG.warn("No --api-key-file: the API is open to every client that reaches this port");
        }
        Thread.ofPlatform().name("gemma-model-load").daemon(true).start(this::load);
    }

    private void load() {
        try {
            long t0 = System.nanoTime();
            if (options.threads > 0) {
                System.setProperty("gemma.threads", Integer.toString(options.threads));
            }
            if (!"auto".equals(options.backend)) {
                System.setProperty("gemma.backend", options.backend);
            }
            Engine m = loadModel(options.model);
            model = m;
            int context = Math.min(options.maxContextLength, m.info().contextLength());
            if (context < options.maxContextLength) {
                LOG.warnf("--max-context-length %d is beyond the model's %d: using %d",
                        options.maxContextLength, m.info().contextLength(), context);
            }
            scheduler = new BatchScheduler(m, new BatchScheduler.Config(context, options.maxConcurrentSequences,
                    options.maxWaitingRequests, options.prefillChunk)).start();
            loaded = true;
            LOG.infof("Loaded %s (%s, %.1f MB of weights) in %.1f s; context %d x %d sequences, KV %.1f MB at most",
                    servedName, m.info().architecture(), m.info().weightBytes() / 1e6, (System.nanoTime() - t0) / 1e9,
                    context, options.maxConcurrentSequences,
                    m.info().kvBytesPerToken() * (double) context * options.maxConcurrentSequences / 1e6);
            warmUp(options.maxConcurrentSequences, context);
        } catch (Throwable e) {
            failure = "model load failed: " + e;
            LOG.error(failure, e);
        }
    }

    /** Warm-up rounds at most, and the time after which no new round starts. */
    static final int WARM_UP_ROUNDS = 4;
    static final long WARM_UP_BUDGET_NANOS = TimeUnit.SECONDS.toNanos(30);

    /**
     * Generations through the scheduler before the server says it is ready, so that the first requests do not pay for
     * the JIT: a round is one sequence alone, then two at once (the batch-1 and the batched kernels), each a 32-token
     * prompt and 16 greedy tokens (a shorter prompt when the context is under 64). Rounds repeat until one is no more
     * than 10 % faster than the one before (the kernels are compiled), at most {@value #WARM_UP_ROUNDS}, and none
     * starts after 30 s. Measured on the 270M (2 threads), a 16-token streamed completion right after ready: with the former warm-up (one 2-token generation) the first request took
     * 295 ms to its first token and 1.21 s in all, the third 57 ms and 0.45 s; with this one (4 rounds, 8.8-10.4 s)
     * the first took 124-166 ms and 0.54-0.70 s.
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
            warmUpRound(prompt, 1); // decode alone: the batch-1 kernels
            if (maxSequences > 1) {
                warmUpRound(prompt, 2); // decode together: the batched ones
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

    /** {@code sequences} greedy generations of 16 tokens at once; returns when all are done. */
    private void warmUpRound(int[] prompt, int sequences) throws Exception {
        CompletableFuture<?>[] done = new CompletableFuture<?>[sequences];
        for (int i = 0; i < sequences; i++) {
            CompletableFuture<FinishReason> d = new CompletableFuture<>();
            done[i] = d;
            scheduler.submit(prompt, GenerationParams.greedy(16), new GenerationListener() {
                @Override
                public void onToken(GeneratedToken token) {
                }

                @Override
                public void onComplete(FinishReason reason, int promptTokens, int completionTokens) {
                    d.complete(reason);
                }

                @Override
                public void onError(String message) {
                    d.completeExceptionally(new IllegalStateException(message));
                }
            });
        }
        CompletableFuture.allOf(done).get(10, TimeUnit.MINUTES);
    }

    /**
     * The engine's loader, {@code io.gemmaserving.runtime.engine.model.ModelLoader.load(Path)}, found by name so the
     * server builds while the engine's loader is being written; it fails with one line when absent.
     */
    static Engine loadModel(Path path) throws Exception {
        Class<?> loader;
        try {
            loader = Class.forName(System.getProperty("gemma.model-loader", "io.gemmaserving.runtime.engine.model.ModelLoader"));
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("this build's engine has no ModelLoader");
        }
        Method load = loader.getMethod("load", Path.class);
        try {
            return (Engine) load.invoke(null, path);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }

    /** True when the engine carries a model loader (tests skip without one). */
    public static boolean loaderPresent() {
        try {
            Class.forName("io.gemmaserving.runtime.engine.model.ModelLoader");
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
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
        return loaded && warmedUp && !draining && failure == null;
    }

    public boolean draining() {
        return draining;
    }

    public String failure() {
        return failure;
    }

    /** The API key's bytes, or null when the server is open. */
    byte[] apiKey() {
        return apiKey;
    }
}
