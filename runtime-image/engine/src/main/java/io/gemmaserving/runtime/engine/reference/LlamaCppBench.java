package io.gemmaserving.runtime.engine.reference;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * llama.cpp's speed on a GGUF through its C API, the peer our engine's benchmarks compare with:
 * a prompt of N tokens from an empty cache, then M greedy single-token decodes, median of R runs.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp gemma-engine.jar io.gemmaserving.runtime.engine.reference.LlamaCppBench \
 *      model.gguf [promptTokens=128] [decodeTokens=128] [threads=2] [runs=3]
 * </pre>
 * Prints one line per run and a summary line {@code llama.cpp prefill=<tok/s> decode=<tok/s>}. Never give more
 * threads than cores (3 threads on 2 cores hung here).
 */
public final class LlamaCppBench {

    private LlamaCppBench() {
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: LlamaCppBench model.gguf [promptTokens=128] [decodeTokens=128] [threads=2] [runs=3]");
            System.exit(2);
        }
        if (!LlamaCpp.available()) {
            System.err.println("llama.cpp unavailable: " + LlamaCpp.unavailableReason());
            System.exit(1);
        }
        int prompt = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int decode = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        int runs = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        double[][] r = run(Path.of(args[0]), prompt, decode, threads, runs);
        System.out.printf("llama.cpp prefill=%.1f decode=%.1f tok/s (median of %d; %d prompt + %d decode tokens, %d threads)%n",
                median(r[0]), median(r[1]), runs, prompt, decode, threads);
    }

    /** {prefill tok/s per run, decode tok/s per run}. The prompt is a deterministic token sequence (ids of real text). */
    public static double[][] run(Path gguf, int promptTokens, int decodeTokens, int threads, int runs) {
        try (LlamaCpp llama = LlamaCpp.open(gguf, new LlamaCpp.Options(promptTokens + decodeTokens + 8,
                Math.max(promptTokens, 1), threads))) {
            int[] prompt = promptOf(llama, promptTokens);
            llama.benchmark(Arrays.copyOf(prompt, Math.min(8, prompt.length)), 2); // warm-up
            double[] prefill = new double[runs];
            double[] decode = new double[runs];
            for (int i = 0; i < runs; i++) {
                LlamaCpp.Timing t = llama.benchmark(prompt, decodeTokens);
                prefill[i] = t.prefillTokensPerSecond();
                decode[i] = t.decodeTokensPerSecond();
                System.out.printf("run %d: prefill %d tokens %.1f ms (%.1f tok/s), decode %d tokens %.1f ms (%.1f tok/s)%n",
                        i + 1, t.promptTokens(), t.prefillNanos() / 1e6, prefill[i], t.decodedTokens(),
                        t.decodeNanos() / 1e6, decode[i]);
            }
            return new double[][] {prefill, decode};
        }
    }

    static int[] promptOf(LlamaCpp llama, int n) {
        String text = "The history of computing is a story of people, machines and ideas. ";
        int[] ids = llama.tokenize(text.repeat(Math.max(1, n / 8)), true, false);
        while (ids.length < n) {
            ids = llama.tokenize(text.repeat(Math.max(1, n / 4 + ids.length)), true, false);
        }
        return Arrays.copyOf(ids, n);
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
