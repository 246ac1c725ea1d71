package io.gemmaserving.runtime.engine.cli;

import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import io.gemmaserving.runtime.engine.Engine;
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
import java.util.Random;
import java.util.concurrent.Callable;
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
            return ModelLoader.load(model, new ModelLoader.Options(backend, threads, numerics));
        }
    }

    static class SamplingOptions {
        @Option(names = "--max-tokens", defaultValue = "256")
        int maxTokens;
        @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy")
        float temperature;
        @Option(names = "--top-k", defaultValue = "0")
        int topK;
        @Option(names = "--top-p", defaultValue = "1")
        float topP;
        @Option(names = "--seed", defaultValue = "0")
        long seed;
    }

    /** Samples with temperature / top-k / top-p (greedy at temperature 0). */
    static int sample(float[] logits, SamplingOptions o, Random rnd) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        if (o.temperature <= 0) {
            return best;
        }
        Integer[] idx = new Integer[logits.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Float.compare(logits[b], logits[a]));
        int k = o.topK > 0 ? Math.min(o.topK, idx.length) : idx.length;
        double[] p = new double[k];
        double sum = 0;
        for (int i = 0; i < k; i++) {
            p[i] = Math.exp((logits[idx[i]] - logits[best]) / o.temperature);
            sum += p[i];
        }
        double cum = 0;
        int n = 0;
        while (n < k && cum < o.topP * sum) {
            cum += p[n++];
        }
        double r = rnd.nextDouble() * cum;
        for (int i = 0; i < n; i++) {
            r -= p[i];
            if (r <= 0) {
                return idx[i];
            }
        }
        return idx[n - 1];
    }

    /** Generates after {@code prompt} into {@code cache}, streaming bytes to out; returns the generated tokens. */
    static List<Integer> generate(Engine m, Engine.KvCache cache, int[] prompt, SamplingOptions o,
                                  Random rnd, PrintStream out) {
        GemmaTokenizer tok = m.tokenizer();
        float[] logits = m.step(List.of(new Engine.Step(cache, prompt, true)))[0];
        List<Integer> gen = new ArrayList<>();
        java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < o.maxTokens && cache.length() < cache.capacity(); i++) {
            int t = sample(logits, o, rnd);
            gen.add(t);
            if (tok.isEndOfGeneration(t)) {
                break;
            }
            pending.writeBytes(tok.tokenBytes(t));
            String s = pending.toString(StandardCharsets.UTF_8);
            if (!s.endsWith("\uFFFD")) { // print at complete code points
                out.print(s);
                out.flush();
                pending.reset();
            }
            if (cache.length() + 1 > cache.capacity()) {
                break;
            }
            logits = m.step(List.of(new Engine.Step(cache, new int[] {t}, true)))[0];
        }
        out.println();
        return gen;
    }

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
                generate(m, m.newKvCache(ids.length + sampling.maxTokens), ids, sampling, new Random(sampling.seed), System.out);
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
            try (GemmaModel m = model.load()) {
                GemmaTokenizer tok = m.tokenizer();
                List<ChatMessage> history = new ArrayList<>();
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                Random rnd = new Random(sampling.seed);
                while (true) {
                    System.out.print("> ");
                    System.out.flush();
                    String line = in.readLine();
                    if (line == null || line.isBlank()) {
                        return 0;
                    }
                    history.add(new ChatMessage("user", line));
                    // Simple and correct: re-run the whole templated conversation in a fresh cache each turn.
                    int[] ids = tok.encode(tok.applyChatTemplate(history, true), false);
                    if (ids.length >= context) {
                        System.err.println("conversation exceeds --context " + context);
                        return 1;
                    }
                    java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
                    PrintStream tee = new PrintStream(new java.io.OutputStream() {
                        @Override
                        public void write(int b) {
                            System.out.write(b);
                            buf.write(b);
                        }
                    }, true, StandardCharsets.UTF_8);
                    generate(m, m.newKvCache(context), ids, sampling, rnd, tee);
                    history.add(new ChatMessage("model", buf.toString(StandardCharsets.UTF_8).strip()));
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

        @Override
        public Integer call() throws Exception {
            double[] ours;
            int[] prompt;
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
                        int t = argmax(logits);
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
                System.out.printf("ours (%s, %d threads): prefill %.1f tok/s, decode %.1f tok/s (median of %d)%n",
                        m.backend().name(), model.threads, ours[0], ours[1], runs);
                printShares("prefill", prefillTimes, promptTokens);
                printShares("decode", decodeTimes, genTokens);
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
                    System.out.printf("llama.cpp: prefill %.1f tok/s, decode %.1f tok/s (median of %d)%n", p, d, runs);
                    System.out.printf("ratio ours/llama.cpp: prefill %.2f, decode %.2f%n", ours[0] / p, ours[1] / d);
                }
            }
            return 0;
        }
    }

    static int argmax(float[] a) {
        int b = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[b]) {
                b = i;
            }
        }
        return b;
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
