package io.gemmaserving.runtime.engine;

import io.gemmaserving.runtime.engine.model.Numerics;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The runtime server's start-up options: a stable CLI contract, because the operator writes these options into
 * Deployments (and a test parses the operator's container args with {@link #parse}). Add options; never rename
 * or remove one.
 */
@Command(name = "gemma-server", mixinStandardHelpOptions = true,
        description = "Serves a Gemma model over the OpenAI-compatible HTTP API.")
public final class ServeOptions {

    @Option(names = "--model", required = true,
            description = "GGUF file, or a directory holding config.json, tokenizer.json and *.safetensors"
                    + " (a modelcar's /mnt/models).")
    public Path model;

    @Option(names = "--served-model-name", description = "Model id in the API (default: the file or directory name).")
    public String servedModelName;

    @Option(names = "--host", defaultValue = "0.0.0.0", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    public String host;

    @Option(names = "--port", defaultValue = "8080", description = "HTTP port (default: ${DEFAULT-VALUE}).")
    public int port;

    @Option(names = "--max-context-length", defaultValue = "4096",
            description = "Longest sequence (prompt + generation) in tokens; sizes the KV cache (default: ${DEFAULT-VALUE}).")
    public int maxContextLength;

    @Option(names = "--max-concurrent-sequences", defaultValue = "8",
            description = "Sequences decoded together by continuous batching (default: ${DEFAULT-VALUE}).")
    public int maxConcurrentSequences;

    @Option(names = "--max-waiting-requests", defaultValue = "64",
            description = "Requests that may wait for a free sequence slot; beyond it the server answers 429 (default: ${DEFAULT-VALUE}).")
    public int maxWaitingRequests;

    @Option(names = "--prefill-chunk", defaultValue = "256",
            description = "Prompt tokens per sequence per step of chunked prefill (default: ${DEFAULT-VALUE}).")
    public int prefillChunk;

    @Option(names = "--backend", defaultValue = "auto",
            description = "Compute backend: auto, cpu, vector, scalar, cuda (default: ${DEFAULT-VALUE}). 'cuda' refuses"
                    + " to start without a GPU; 'auto' falls back to the CPU.")
    public String backend;

    @Option(names = "--tensor-parallel-size", defaultValue = "1",
            description = "GPUs the model is split across (CUDA backend; default: ${DEFAULT-VALUE}).")
    public int tensorParallelSize;

    @Option(names = "--threads", defaultValue = "0",
            description = "CPU threads for the kernels; 0 means one per available core (default: ${DEFAULT-VALUE}).")
    public int threads;

    @Option(names = "--kv-cache-dtype", defaultValue = "f16", converter = KvCacheTypeConverter.class,
            description = "How keys and values are stored (CPU and GPU): f16 (half the memory) or f32 (default: ${DEFAULT-VALUE}).")
    public KvCacheType kvCacheType;

    @Option(names = "--api-key-file",
            description = "File holding the API key clients must send as 'Authorization: Bearer <key>'. Without it the server is open.")
    public Path apiKeyFile;

    @Option(names = "--drain-timeout-seconds", defaultValue = "30",
            description = "On SIGTERM, how long running requests may take to finish (default: ${DEFAULT-VALUE}).")
    public int drainTimeoutSeconds;

    @Option(names = "--prefix-caching", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Reuse the KV of prompt prefixes seen before (the next turn of a conversation, a shared system"
                    + " prompt); --no-prefix-caching turns it off (default: ${DEFAULT-VALUE}).")
    public boolean prefixCaching;

    @Option(names = "--prefix-cache-bytes", defaultValue = "0",
            description = "Most bytes the cached prefixes may hold; 0 means as much as the running sequences leave of"
                    + " the KV budget (cached prefixes always give way to running ones) (default: ${DEFAULT-VALUE}).")
    public long prefixCacheBytes;

    @Option(names = "--prefix-cache-block", defaultValue = "256",
            description = "A long prompt's prefill leaves a reusable snapshot every this many tokens (sliding-window"
                    + " layers cannot be cut back far, so a prefix is reused from the last snapshot within it)"
                    + " (default: ${DEFAULT-VALUE}).")
    public int prefixCacheBlock;

    @Option(names = "--speculative-ngram", defaultValue = "0",
            description = "Prompt-lookup speculative decoding: up to this many draft tokens, copied from where the last"
                    + " tokens occurred earlier in the prompt or output, verified in one step; exact (with a seed the"
                    + " output is the same as without); 0 = off, at most 16 (default: ${DEFAULT-VALUE}).")
    public int speculativeNgram;

    @Option(names = "--speculative-ngram-size", defaultValue = "3",
            description = "Longest n-gram prompt lookup matches (then shorter ones down to 1) (default: ${DEFAULT-VALUE}).")
    public int speculativeNgramSize;

    @Option(names = "--termination-message-path", defaultValue = "/dev/termination-log",
            description = "Where a start-up failure's one-line reason is also written, when that file is writable"
                    + " (Kubernetes' terminationMessagePath; default: ${DEFAULT-VALUE}).")
    public Path terminationMessagePath;

    /** What the engine needs of these options: backend, threads, tensor-parallel size and KV cache type, as a value. */
    public EngineOptions engineOptions() {
        return new EngineOptions(backend, threads, tensorParallelSize, Numerics.F32, kvCacheType);
    }

    /** {@code f16} / {@code f32} in any case, one clear line otherwise. */
    static final class KvCacheTypeConverter implements CommandLine.ITypeConverter<KvCacheType> {
        @Override
        public KvCacheType convert(String value) {
            try {
                return KvCacheType.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** Parses {@code args}; throws {@link CommandLine.ParameterException} naming the bad option. */
    public static ServeOptions parse(String... args) {
        ServeOptions options = new ServeOptions();
        new CommandLine(options).parseArgs(args);
        return options;
    }
}
