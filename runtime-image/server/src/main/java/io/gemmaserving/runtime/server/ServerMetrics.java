package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.function.ToDoubleFunction;

/**
 * Prometheus metrics: the queue (waiting requests is the autoscaling signal), running requests, KV-cache use, time
 * to first token, inter-token latency, token counters. The three gauges are also exported under vLLM's names so a
 * KEDA trigger or dashboard written for vLLM works unchanged.
 */
@ApplicationScoped
public class ServerMetrics {

    @Inject
    MeterRegistry registry;
    @Inject
    ModelHolder holder;

    private Timer timeToFirstToken;
    private Timer interTokenLatency;
    private Counter promptTokens;
    private Counter generationTokens;
    private Counter rejected;

    void onStart(@Observes StartupEvent event) {
        gauge("gemma.requests.waiting", "Requests waiting for a sequence slot (autoscaling signal)", BatchScheduler::waitingRequests);
        gauge("gemma.requests.running", "Requests being generated", BatchScheduler::runningRequests);
        gauge("gemma.kv.cache.usage.ratio", "Fraction of the KV-cache budget in use", BatchScheduler::kvCacheUsage);
        gauge("gemma.kv.cache.bytes", "Bytes the running sequences' KV caches hold", s -> (double) s.kvCacheBytes());
        gauge("vllm:num_requests_waiting", "Requests waiting (vLLM name)", BatchScheduler::waitingRequests);
        gauge("vllm:num_requests_running", "Requests running (vLLM name)", BatchScheduler::runningRequests);
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage, 1 = full (vLLM name)", BatchScheduler::kvCacheUsage);
        timeToFirstToken = Timer.builder("gemma.time.to.first.token").description("Time from request to first token")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(5)).maximumExpectedValue(Duration.ofSeconds(60))
                .register(registry);
        interTokenLatency = Timer.builder("gemma.inter.token.latency").description("Time between two tokens of a request")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry);
        promptTokens = Counter.builder("gemma.prompt.tokens").description("Prompt tokens processed").register(registry);
        generationTokens = Counter.builder("gemma.generation.tokens").description("Tokens generated").register(registry);
        rejected = Counter.builder("gemma.requests.rejected").description("Requests refused because the queue was full")
                .register(registry);
    }

    private void gauge(String name, String help, ToDoubleFunction<BatchScheduler> f) {
        Gauge.builder(name, holder, h -> h.scheduler() == null ? 0 : f.applyAsDouble(h.scheduler()))
                .description(help).strongReference(true).register(registry);
    }

    void firstToken(long nanos) {
        timeToFirstToken.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    void interToken(long nanos) {
        interTokenLatency.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    void finished(int prompt, int generated) {
        promptTokens.increment(prompt);
        generationTokens.increment(generated);
    }

    void rejected() {
        rejected.increment();
    }
}
