package io.gemmaserving.runtime.bench;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.batch.TokenSampler;
import io.gemmaserving.runtime.engine.cli.GemmaCli;
import io.gemmaserving.runtime.engine.model.GemmaModel;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The engine's speed on one model, and llama.cpp's on the same GGUF with {@code --compare-llama-cpp}: a prompt of
 * {@code --prompt-tokens} from an empty cache, then {@code --gen-tokens} greedy single-token decodes, each engine
 * warmed up first. Also the share of time per operation and, from a measured memory bandwidth, the decode ceiling.
 * Run: {@code java -jar gemma-bench-<version>.jar --model m.gguf --threads 2 --compare-llama-cpp}
 * ({@code --add-modules jdk.incubator.vector}, as every engine entry point).
 */
@Command(name = "gemma-bench", mixinStandardHelpOptions = true,
        description = "Prefill and decode tokens/s, median of 3 runs after one untimed; with --compare-llama-cpp also"
                + " llama.cpp on the same file.")
public final class GemmaBench implements Callable<Integer> {

    public static void main(String[] args) {
        System.exit(GemmaCli.execute(new GemmaBench(), args));
    }

    @CommandLine.Mixin
    GemmaCli.ModelOptions model = new GemmaCli.ModelOptions();
    @Option(names = "--prompt-tokens", defaultValue = "128")
    int promptTokens;
    @Option(names = "--gen-tokens", defaultValue = "128")
    int genTokens;
    @Option(names = "--runs", defaultValue = "3")
    int runs;
    @Option(names = "--compare-llama-cpp")
    boolean compare;
    @Option(names = "--warmup-runs", defaultValue = "1",
            description = "untimed runs first, for each engine (the JIT compiles our kernels during the first)")
    int warmupRuns;
    @Option(names = "--prefill-chunk", defaultValue = "0",
            description = "prefill in steps of at most this many tokens, as the server does (0 = the whole prompt in one step)")
    int prefillChunk;
    @Option(names = "--bandwidth-passes", defaultValue = "5",
            description = "timed passes of the memory-bandwidth probe that sets the decode ceiling (0 = skip it)")
    int bandwidthPasses;

    private static void printShares(String phase, GemmaModel.OpTimes t, int tokens) {
        double all = t.matmul + t.attention + t.other;
        System.out.printf("  %s time in last run: matmul %.0f%% (output head %.0f%%), attention %.0f%%, other %.0f%%;"
                + " %.2f ms per token%n", phase, 100 * t.matmul / all, 100 * t.outputHead / all,
                100 * t.attention / all, 100 * t.other / all, all / 1e6 / tokens);
    }

    /** The prompt's KV in steps of {@code prefillChunk} tokens (all at once when 0); the last token's logits. */
    private float[] prefill(GemmaModel m, Engine.KvCache c, int[] prompt) {
        int chunk = prefillChunk > 0 ? prefillChunk : prompt.length;
        float[] logits = null;
        for (int p = 0; p < prompt.length; p += chunk) {
            int end = Math.min(prompt.length, p + chunk);
            logits = m.step(List.of(new Engine.Step(c, Arrays.copyOfRange(prompt, p, end), end == prompt.length)))[0];
        }
        return logits;
    }

    @Override
    public Integer call() throws Exception {
        double[] ours;
        int[] prompt;
        long bytesPerToken;
        long ggufBytesPerToken;
        try (GemmaModel m = model.load()) {
            prompt = new int[promptTokens];
            int[] text = m.tokenizer().encode("The quick brown fox jumps over the lazy dog. ".repeat(promptTokens / 8 + 1), true);
            System.arraycopy(text, 0, prompt, 0, promptTokens);
            ModelLoader.warmUp(m);
            double[] pf = new double[runs];
            double[] dc = new double[runs];
            GemmaModel.OpTimes prefillTimes = new GemmaModel.OpTimes();
            GemmaModel.OpTimes decodeTimes = new GemmaModel.OpTimes();
            for (int r = -warmupRuns; r < runs; r++) {
                Engine.KvCache c = m.newKvCache(promptTokens + genTokens + 1);
                m.opTimes().reset();
                long t0 = System.nanoTime();
                float[] logits = prefill(m, c, prompt);
                long t1 = System.nanoTime();
                prefillTimes = m.opTimes().copy();
                m.opTimes().reset();
                for (int i = 0; i < genTokens; i++) {
                    int t = TokenSampler.argmax(logits);
                    logits = m.step(List.of(new Engine.Step(c, new int[] {t}, true)))[0];
                }
                long t2 = System.nanoTime();
                if (r < 0) {
                    continue;
                }
                pf[r] = promptTokens / ((t1 - t0) / 1e9);
                dc[r] = genTokens / ((t2 - t1) / 1e9);
                decodeTimes = m.opTimes().copy();
            }
            ours = new double[] {median(pf), median(dc)};
            System.out.printf("ours (%s, %d threads, KV %s%s): prefill %.1f tok/s, decode %.1f tok/s (median of %d;"
                            + " runs %s / %s)%n", m.backend().name(), m.backend().parallelism(),
                    m.kvCacheType().name().toLowerCase(Locale.ROOT),
                    prefillChunk > 0 ? ", prefill in chunks of " + prefillChunk : "", ours[0], ours[1], runs,
                    range(pf), range(dc));
            printShares("prefill", prefillTimes, promptTokens);
            printShares("decode", decodeTimes, genTokens);
            int mid = promptTokens + genTokens / 2;
            bytesPerToken = m.bytesReadPerDecodeToken(mid);
            ggufBytesPerToken = m.info().weightBytes() + m.kvBytesReadPerDecodeToken(mid);
        }
        double bandwidth = 0;
        if (bandwidthPasses > 0) {
            int threads = model.threads > 0 ? model.threads : Runtime.getRuntime().availableProcessors();
            bandwidth = MemoryBandwidth.measure(threads, bandwidthPasses);
            System.out.printf("memory read bandwidth: %.1f GB/s (%d threads streaming %d MiB, best of %d passes)%n",
                    bandwidth / 1e9, threads, MemoryBandwidth.bufferBytes() >> 20, bandwidthPasses);
            System.out.printf("decode reads %.1f MB per token at position %d (%.1f MB as the GGUF stores it):"
                            + " ceiling %.0f tok/s; ours %.0f%% of it%n", bytesPerToken / 1e6,
                    promptTokens + genTokens / 2, ggufBytesPerToken / 1e6, bandwidth / bytesPerToken,
                    100 * ours[1] * bytesPerToken / bandwidth);
        }
        if (compare) {
            if (!LlamaCpp.available()) {
                System.out.println("llama.cpp: unavailable (" + LlamaCpp.unavailableReason() + ")");
                return 0;
            }
            try (LlamaCpp ref = LlamaCpp.open(model.model, LlamaCpp.Options.defaults())) {
                if (model.threads > 0) {
                    ref.setThreads(model.threads);
                }
                System.out.println("llama.cpp weight buffers (its load log): "
                        + (ref.bufferTypes().isEmpty() ? "not logged" : String.join(", ", ref.bufferTypes())));
                for (int r = 0; r < warmupRuns; r++) {
                    ref.benchmark(prompt, genTokens);
                }
                double[] pf = new double[runs];
                double[] dc = new double[runs];
                for (int r = 0; r < runs; r++) {
                    LlamaCpp.Timing t = ref.benchmark(prompt, genTokens);
                    pf[r] = t.prefillTokensPerSecond();
                    dc[r] = t.decodeTokensPerSecond();
                }
                double p = median(pf), d = median(dc);
                System.out.printf("llama.cpp: prefill %.1f tok/s, decode %.1f tok/s (median of %d; runs %s / %s)%n",
                        p, d, runs, range(pf), range(dc));
                if (bandwidth > 0) {
                    System.out.printf("llama.cpp decode: %.0f%% of the ceiling its GGUF layout sets (%.0f tok/s)%n",
                            100 * d * ggufBytesPerToken / bandwidth, bandwidth / ggufBytesPerToken);
                }
                System.out.printf("ratio ours/llama.cpp: prefill %.2f, decode %.2f%n", ours[0] / p, ours[1] / d);
            }
        }
        return 0;
    }

    /** "min-max" of the runs' figures. */
    static String range(double[] a) {
        double lo = Arrays.stream(a).min().orElse(0), hi = Arrays.stream(a).max().orElse(0);
        return String.format("%.1f-%.1f", lo, hi);
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
