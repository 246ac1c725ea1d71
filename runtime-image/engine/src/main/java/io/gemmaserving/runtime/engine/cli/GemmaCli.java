package io.gemmaserving.runtime.engine.cli;

import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import io.gemmaserving.runtime.engine.batch.FinishReason;
import io.gemmaserving.runtime.engine.batch.GenerationListener;
import io.gemmaserving.runtime.engine.batch.GenerationParams;
import io.gemmaserving.runtime.engine.model.GemmaModel;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import io.gemmaserving.runtime.engine.model.Numerics;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The engine's command line: {@code generate} and {@code chat}, through the same scheduler as the server. Speed is
 * measured by {@code gemma-bench} (module runtime-image/bench).
 * Run: {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... GemmaCli generate --model m.gguf --prompt "..."}.
 */
@Command(name = "gemma", mixinStandardHelpOptions = true, description = "Gemma inference on the CPU.",
        subcommands = {GemmaCli.Generate.class, GemmaCli.Chat.class})
public final class GemmaCli {

    public static void main(String[] args) {
        System.exit(execute(new GemmaCli(), args));
    }

    /** Runs a picocli command; bad input prints one line, no stack trace. */
    public static int execute(Object command, String[] args) {
        CommandLine cl = new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        });
        return cl.execute(args);
    }

    /** The model and how it computes; shared with {@code gemma-bench}. */
    public static class ModelOptions {
        @Option(names = "--model", required = true, description = "GGUF file or HF safetensors directory")
        public Path model;
        @Option(names = "--threads", defaultValue = "0", description = "compute threads (0 = one per core)")
        public int threads;
        @Option(names = "--backend", defaultValue = "auto", description = "auto, vector, scalar")
        public String backend;
        @Option(names = "--numerics", defaultValue = "F32",
                description = "F32 (default), or GGML to round as llama.cpp does (for comparing with it)")
        public Numerics numerics;

        public GemmaModel load() throws Exception {
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
        scheduler.submit(prompt, params, GenerationListener.completing(token -> {
            out.print(token.text());
            out.flush();
            text.append(token.text());
        }, done));
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
}
