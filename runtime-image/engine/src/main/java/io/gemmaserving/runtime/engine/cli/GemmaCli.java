package io.gemmaserving.runtime.engine.cli;

import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import io.gemmaserving.runtime.engine.batch.FinishReason;
import io.gemmaserving.runtime.engine.batch.GenerationListener;
import io.gemmaserving.runtime.engine.batch.GenerationParams;
import io.gemmaserving.runtime.engine.batch.TokenSampler;
import io.gemmaserving.runtime.engine.model.GemmaModel;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import io.gemmaserving.runtime.engine.model.Numerics;
import io.gemmaserving.runtime.engine.reference.LlamaCpp;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The engine's command line: {@code generate}, {@code chat}, {@code bench}.
 * Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... GemmaCli generate --model m.gguf --prompt "..."}.
 */
@Command(name = "gemma", mixinStandardHelpOptions = true, description = "Gemma inference on the CPU.",
        subcommands = {GemmaCli.Generate.class, GemmaCli.Chat.class, GemmaCli.Bench.class})
public final class GemmaCli {

    public static void main(String[] args) {
        CommandLine cl = new CommandLine(new GemmaCli()).setCaseInsensitiveEnumValuesAllowed(true);
        // Bad input: one line, no stack trace.
        cl.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        System.exit(cl.execute(args));
    }

    static class ModelOptions {
        @Option(names = "--model", required = true, description = "GGUF file or HF safetensors directory")
        Path model;
        @Option(names = "--threads", defaultValue = "0", description = "compute threads (0 = one per core)")
        int threads;
        @Option(names = "--backend", defaultValue = "auto", description = "auto, vector, scalar")
        String backend;
        @Option(names = "--numerics", defaultValue = "F32",
                description = "F32 (default), or GGML to round as llama.cpp does (for comparing with it)")
        Numerics numerics;

        GemmaModel load() throws Exception {
            return ModelLoader.load(model, new EngineOptions(backend, threads, 1, numerics));
        }
    }

    static class SamplingOptions {
        @Option(names = "--max-tokens", defaultValue = "256")
        int maxTokens;
        @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy")
        double temperature;
        @Option(names = "--top-p", defaultValue = "1")
        double topP;
        @Option(names = "--seed", defaultValue = "0")
        long seed;
        @Option(names = "--stop", description = "a string that ends the generation (repeatable); it is not printed")
        List<String> stop = new ArrayList<>();

        GenerationParams params() {
            return new GenerationParams(maxTokens, temperature, topP, seed, stop, false, 0);
        }
    }

    /**
     * Generates one reply through the server's path (scheduler, its sampler, its stop-string and UTF-8 handling),
     * printing text as it is released; returns the text.
     */
    static String generate(BatchScheduler scheduler, int[] prompt, GenerationParams params, PrintStream out)
            throws Exception {
        StringBuilder text = new StringBuilder();
        CompletableFuture<FinishReason> done = new CompletableFuture<>();
        scheduler.submit(prompt, params, new GenerationListener() {
            @Override
            public void onToken(GeneratedToken token) {
                out.print(token.text());
                out.flush();
                text.append(token.text());
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
        try {
            done.get();
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
        out.println();
        return text.toString();
    }

    /** One sequence at a time, with room for {@code context} positions. */
    static BatchScheduler scheduler(GemmaModel m, int context) {
        return new BatchScheduler(m, new BatchScheduler.Config(context, 1, 1, PREFILL_CHUNK)).start();
    }

    /** Prompt tokens per forward pass: what the server's scheduler uses by default. */
    private static final int PREFILL_CHUNK = 512;

    @Command(name = "generate", description = "Continues a prompt (chat-templated unless --raw), streaming to stdout.")
    static final class Generate implements Callable<Integer> {
        @CommandLine.Mixin
        ModelOptions model = new ModelOptions();
        @CommandLine.Mixin
        SamplingOptions sampling = new SamplingOptions();
        @Option(names = "--prompt", required = true)
        String prompt;
        @Option(names = "--raw", description = "no chat template")
        boolean raw;

        @Override
        public Integer call() throws Exception {
            try (GemmaModel m = model.load()) {
                GemmaTokenizer tok = m.tokenizer();
                int[] ids = raw ? tok.encode(prompt, true)
                        : tok.encode(tok.applyChatTemplate(List.of(new ChatMessage("user", prompt)), true), false);
                try (BatchScheduler s = scheduler(m, ids.length + sampling.maxTokens)) {
                    generate(s, ids, sampling.params(), System.out);
                }
            }
            return 0;
        }
    }

    @Command(name = "chat", description = "Interactive chat on stdin/stdout (Gemma chat template); an empty line ends it.")
    static final class Chat implements Callable<Integer> {
        @CommandLine.Mixin
        ModelOptions model = new ModelOptions();
        @CommandLine.Mixin
        SamplingOptions sampling = new SamplingOptions();
        @Option(names = "--context", defaultValue = "4096")
        int context;

        @Override
        public Integer call() throws Exception {
            try (GemmaModel m = model.load(); BatchScheduler s = scheduler(m, context)) {
                GemmaTokenizer tok = m.tokenizer();
                List<ChatMessage> history = new ArrayList<>();
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                GenerationParams params = sampling.params();
                for (int turn = 0; ; turn++) {
                    System.out.print("> ");
                    System.out.flush();
                    String line = in.readLine();
                    if (line == null || line.isBlank()) {
                        return 0;
                    }
                    history.add(new ChatMessage("user", line));
                    // The whole templated conversation each turn: the scheduler starts every sequence from an
                    // empty cache. Each turn its own seed, so a sampled chat does not repeat the first reply's draws.
                    int[] ids = tok.encode(tok.applyChatTemplate(history, true), false);
                    if (ids.length >= context) {
                        System.err.println("conversation exceeds --context " + context);
                        return 1;
                    }
                    String reply = generate(s, ids, params.withSeed(GenerationParams.choiceSeed(sampling.seed, turn)),
                            System.out);
                    history.add(new ChatMessage("model", reply.strip()));
                }
            }
        }
    }

    @Command(name = "bench", description = "Prefill and decode tokens/s, median of 3 runs after one untimed; with --compare-llama-cpp also llama.cpp on the same file.")
    static final class Bench implements Callable<Integer> {
        @CommandLine.Mixin
        ModelOptions model = new ModelOptions();
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

        private static void printShares(String phase, GemmaModel.OpTimes t, int tokens) {
            double all = t.matmul + t.attention + t.other;
            System.out.printf("  %s time in last run: matmul %.0f%% (output head %.0f%%), attention %.0f%%, other %.0f%%;"
                    + " %.2f ms per token%n", phase, 100 * t.matmul / all, 100 * t.outputHead / all,
                    100 * t.attention / all, 100 * t.other / all, all / 1e6 / tokens);
        }

        @Option(names = "--bandwidth-passes", defaultValue = "5",
                description = "timed passes of the memory-bandwidth probe that sets the decode ceiling (0 = skip it)")
        int bandwidthPasses;

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
                    float[] logits = m.step(List.of(new Engine.Step(c, prompt, true)))[0];
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
                System.out.printf("ours (%s, %d threads, KV %s): prefill %.1f tok/s, decode %.1f tok/s (median of %d;"
                                + " runs %s / %s)%n", m.backend().name(), m.backend().parallelism(),
                        m.kvCacheType().name().toLowerCase(java.util.Locale.ROOT), ours[0], ours[1], runs,
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
