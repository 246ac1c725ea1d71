package io.gemmaserving.runtime.server;

import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
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
 * KEDA trigger or dashboard written for vLLM works unchanged, and so are vLLM's prefix-cache counters (in tokens:
 * prompt tokens queried, and those whose KV came from the cache), its speculative-decoding counters and
 * {@code vllm:cache_config_info}, whose labels the Gateway API Inference Extension's endpoint picker reads
 * ({@code block_size}: tokens per prefix snapshot; {@code num_gpu_blocks}: the KV budget in such blocks).
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
        counter("vllm:prefix_cache_queries", "Prefix cache queries, in prompt tokens queried (vLLM name)",
                BatchScheduler::prefixCacheQueries);
        counter("vllm:prefix_cache_hits", "Prefix cache hits, in prompt tokens whose KV was cached (vLLM name)",
                BatchScheduler::prefixCacheHits);
        counter("vllm:spec_decode_num_draft_tokens", "Draft tokens proposed by prompt lookup (vLLM name)",
                BatchScheduler::draftTokens);
        counter("vllm:spec_decode_num_accepted_tokens", "Draft tokens accepted (vLLM name)",
                BatchScheduler::acceptedDraftTokens);
        gauge("gemma.prefix.cache.bytes", "Bytes the cached prompt prefixes hold", s -> (double) s.prefixCacheBytes());
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

    /** vLLM's CacheConfig as an info metric (value 1), once the scheduler's limits are known. */
    void onSchedulerStarted(@Observes SchedulerStarted started) {
        BatchScheduler.Config c = started.scheduler().config();
        long budget = (long) c.maxContextLength() * c.maxConcurrentSequences();
        Gauge.builder("vllm:cache_config_info", () -> 1)
                .description("KV cache configuration (vLLM name): block_size tokens per block, num_gpu_blocks blocks")
                .tag("block_size", Integer.toString(c.prefixBlock()))
                .tag("num_gpu_blocks", Long.toString(budget / c.prefixBlock()))
                .tag("enable_prefix_caching", Boolean.toString(c.prefixCacheBytes() > 0))
                .strongReference(true).register(registry);
    }

    private void counter(String name, String help, ToDoubleFunction<BatchScheduler> f) {
        FunctionCounter.builder(name, holder, h -> h.scheduler() == null ? 0 : f.applyAsDouble(h.scheduler()))
                .description(help).register(registry);
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
