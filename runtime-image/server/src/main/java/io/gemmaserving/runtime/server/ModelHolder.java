package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.InferenceModel;
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
    private volatile InferenceModel model;
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
            InferenceModel m = loadModel(options.model);
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
            warmUp();
        } catch (Throwable e) {
            failure = "model load failed: " + e;
            LOG.error(failure, e);
        }
    }

    /** One short generation through the scheduler: the kernels are compiled and the pages touched before traffic. */
    private void warmUp() throws Exception {
        long t0 = System.nanoTime();
        CompletableFuture<FinishReason> done = new CompletableFuture<>();
        int[] prompt = model.tokenizer().encode("Hello", true);
        scheduler.submit(prompt, GenerationParams.greedy(2), new GenerationListener() {
            @Override
            public void onToken(GeneratedToken token) {
            }

            @Override
            public void onComplete(FinishReason reason, int promptTokens, int completionTokens) {
                done.complete(reason);
            }

            @Override
            public void onError(String message) {
                done.completeExceptionally(new IllegalStateException(message));
            }
        });
        done.get(10, TimeUnit.MINUTES);
        warmedUp = true;
        LOG.infof("Warm-up forward pass done in %.2f s: ready", (System.nanoTime() - t0) / 1e9);
    }

    /**
     * The engine's loader, {@code io.gemmaserving.runtime.engine.model.ModelLoader.load(Path)}, found by name so the
     * server builds while the engine's loader is being written; it fails with one line when absent.
     */
    static InferenceModel loadModel(Path path) throws Exception {
        Class<?> loader;
        try {
            loader = Class.forName(System.getProperty("gemma.model-loader", "io.gemmaserving.runtime.engine.model.ModelLoader"));
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("this build's engine has no ModelLoader");
        }
        Method load = loader.getMethod("load", Path.class);
        try {
            return (InferenceModel) load.invoke(null, path);
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
        InferenceModel m = model;
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

    public InferenceModel model() {
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
