package io.gemmaserving.runtime.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.SymbolLookup;
import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.batch.TokenSampler;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * llama.cpp's C API ({@code libllama}) called through the Foreign Function &amp; Memory API: the reference
 * tokenizer and forward pass our engine is tested against, and the peer our benchmarks compare with.
 *
 * <p>The libraries come from npm {@code @node-llama-cpp/linux-x64} 3.22.1 (see {@code hack/setup.d/20-llama-cpp.sh});
 * their directory is {@code $LLAMA_CPP_LIB_DIR} (or the system property {@code gemma.llamacpp.dir}). That build is a
 * 2026 llama.cpp whose {@code llama_model_params} / {@code llama_context_params} layouts moved several times; this
 * binding therefore depends on as little of them as it can:
 * <ul>
 *   <li>Both structs are larger than 16 bytes, so the SysV x86-64 ABI passes and returns them in memory. We give
 *       FFM an over-sized opaque layout ({@value #PARAMS_BYTES} bytes): the callee writes (or reads) only its real
 *       size, the rest is slack. The model parameters stay at llama.cpp's defaults (mmap, CPU).</li>
 *   <li>Of the context parameters we write only the first three fields ({@code uint32 n_ctx, n_batch, n_ubatch},
 *       unchanged since 2023), set threads with {@code llama_set_n_threads}, and check every value back through
 *       {@code llama_n_ctx}/{@code llama_n_batch}/{@code llama_n_threads} so a layout drift fails loudly.</li>
 *   <li>{@code llama_batch} (stable since 2023) is only produced by {@code llama_batch_get_one} and handed back to
 *       {@code llama_decode} unchanged.</li>
 * </ul>
 *
 * <p>One instance holds one model and one context (one sequence); methods are synchronized.
 */
public final class LlamaCpp implements AutoCloseable {

    /** Opaque size for the by-value parameter structs; far above their real size (~80 and ~220 bytes), and small enough for FFM (a struct in memory becomes one stack slot per 8 bytes). */
    static final int PARAMS_BYTES = 512;

    private static final String LIB_LLAMA = "libllama.v0.5.0.so";
    private static final String LIB_GGML = "libggml.v0.5.0.so";

    /** Where the shared libraries should be, or null when nothing says so. */
    public static Path libraryDir() {
        String dir = System.getProperty("gemma.llamacpp.dir", System.getenv("LLAMA_CPP_LIB_DIR"));
        return dir == null || dir.isBlank() ? null : Path.of(dir);
    }

    /** Whether llama.cpp's libraries are present (tests skip with {@link #unavailableReason()} when not). */
    public static boolean available() {
        return unavailableReason() == null;
    }

    /** Why {@link #available()} is false, in one line; null when available. */
    public static String unavailableReason() {
        Path dir = libraryDir();
        if (dir == null) {
            return "LLAMA_CPP_LIB_DIR is not set (run hack/setup.sh and source hack/env.sh)";
        }
        if (!Files.isRegularFile(dir.resolve(LIB_LLAMA)) || !Files.isRegularFile(dir.resolve(LIB_GGML))) {
            return "llama.cpp libraries not found in " + dir + " (run hack/setup.sh)";
        }
        return null;
    }

    /**
     * Context size, threads, and how attention is computed.
     *
     * @param contextLength KV cache positions (n_ctx)
     * @param batchSize     tokens per llama_decode call, and the micro-batch (n_batch = n_ubatch)
     * @param threads       threads for decode and for prompt batches
     * @param f32Attention  false: llama.cpp's defaults (f16 KV cache, flash attention "auto", which is on for the
     *                      CPU); true: an f32 KV cache and flash attention off, so attention runs in f32 as ours does.
     *                      Checked in llama.cpp's own log of the context it made ({@link #open} fails otherwise).
     */
    public record Options(int contextLength, int batchSize, int threads, boolean f32Attention) {
        public Options {
            if (contextLength < 1 || batchSize < 1 || threads < 1) {
                throw new IllegalArgumentException("contextLength, batchSize and threads must be >= 1: "
                        + contextLength + ", " + batchSize + ", " + threads);
            }
        }

        /** llama.cpp's default attention (f16 KV cache, flash attention auto). */
        public Options(int contextLength, int batchSize, int threads) {
            this(contextLength, batchSize, threads, false);
        }

        public Options withF32Attention() {
            return new Options(contextLength, batchSize, threads, true);
        }

        /** 2048 positions, 512-token batches, one thread per core (as ours with {@code --threads 0}). */
        public static Options defaults() {
            return new Options(2048, 512, Runtime.getRuntime().availableProcessors());
        }
    }

    /** Wall time of a prefill and of the single-token decodes after it. */
    public record Timing(int promptTokens, long prefillNanos, int decodedTokens, long decodeNanos) {
        public double prefillTokensPerSecond() {
            return promptTokens * 1e9 / prefillNanos;
        }

        public double decodeTokensPerSecond() {
            return decodedTokens * 1e9 / decodeNanos;
        }
    }

    /** llama.cpp's log while {@link #open} creates a context (guarded by itself). */
    private static final StringBuilder LOG = new StringBuilder();
    private static volatile boolean capture;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment model;
    private final MemorySegment context;
    private final MemorySegment vocab;
    private final int vocabSize;
    private final Options options;
    private final List<String> bufferTypes;
    private boolean closed;

    /**
     * The buffer types llama.cpp put the model's weights in, from its load log ({@code load_tensors: CPU_REPACK
     * model buffer size = ...}, {@code AMX}, {@code CPU_Mapped}), each with its size as logged; empty when the log
     * was not captured ({@code GEMMA_LLAMA_LOG} set) or names none.
     */
    public List<String> bufferTypes() {
        return bufferTypes;
    }

    static List<String> bufferTypes(String log) {
        List<String> types = new java.util.ArrayList<>();
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(\\S+) model buffer size\\s*=\\s*([0-9.]+ \\S+)").matcher(log);
        while (m.find()) {
            types.add(m.group(1) + " " + m.group(2));
        }
        return List.copyOf(types);
    }

    private LlamaCpp(MemorySegment model, MemorySegment context, Options options, List<String> bufferTypes)
            throws Throwable {
        this.bufferTypes = bufferTypes;
        this.model = model;
        this.context = context;
        this.options = options;
        this.vocab = (MemorySegment) Native.get().modelGetVocab.invokeExact(model);
        this.vocabSize = (int) Native.get().vocabNTokens.invokeExact(vocab);
    }

    /** Loads a GGUF file (memory-mapped by llama.cpp) and creates one context. */
    public static LlamaCpp open(Path gguf, Options options) {
        if (!Files.isRegularFile(gguf)) {
            throw new IllegalArgumentException("model file not found: " + gguf);
        }
        Native n = Native.get();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment modelParams = (MemorySegment) n.modelDefaultParams.invokeExact((SegmentAllocator) tmp);
            MemorySegment model;
            String loadLog;
            synchronized (LOG) {
                LOG.setLength(0);
                capture = true;
                try {
                    model = (MemorySegment) n.modelLoadFromFile.invokeExact(
                            tmp.allocateFrom(gguf.toAbsolutePath().toString()), modelParams);
                } finally {
                    capture = false;
                }
                loadLog = LOG.toString();
            }
            if (model.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("llama.cpp could not load " + gguf);
            }
            MemorySegment ctxParams = (MemorySegment) n.contextDefaultParams.invokeExact((SegmentAllocator) tmp);
            // uint32 n_ctx, n_batch, n_ubatch: the first three fields of llama_context_params in every version.
            ctxParams.set(JAVA_INT, 0, options.contextLength());
            ctxParams.set(JAVA_INT, 4, options.batchSize());
            ctxParams.set(JAVA_INT, 8, options.batchSize());
            long threadsOffset = setDefaultThreads(ctxParams, options.threads());
            if (options.f32Attention()) {
                setF32Attention(ctxParams, threadsOffset);
            }
            MemorySegment ctx;
            synchronized (LOG) {
                LOG.setLength(0);
                capture = true;
                try {
                    ctx = (MemorySegment) n.initFromModel.invokeExact(model, ctxParams);
                } finally {
                    capture = false;
                }
                if (options.f32Attention() && !ctx.equals(MemorySegment.NULL) && n.logCaptured) {
                    String log = LOG.toString();
                    // llama.cpp logs "flash_attn = disabled" and "K (f32): ... V (f32)" for the context it made.
                    if (!log.matches("(?s).*flash_attn\\s*=\\s*(disabled|0|false).*") || !log.contains("K (f32)")
                            || !log.contains("V (f32)")) {
                        n.free.invokeExact(ctx);
                        n.modelFree.invokeExact(model);
                        throw new IllegalStateException("llama_context_params layout mismatch: asked an f32 KV cache "
                                + "and no flash attention, llama.cpp's log says:\n" + log);
                    }
                }
            }
            if (ctx.equals(MemorySegment.NULL)) {
                n.modelFree.invokeExact(model);
                throw new IllegalStateException("llama.cpp could not create a context for " + gguf);
            }
            n.setNThreads.invokeExact(ctx, options.threads(), options.threads());
            int nCtx = (int) n.nCtx.invokeExact(ctx);
            int nBatch = (int) n.nBatch.invokeExact(ctx);
            int nThreads = (int) n.nThreads.invokeExact(ctx);
            if (nCtx < options.contextLength() || nBatch != options.batchSize() || nThreads != options.threads()) {
                n.free.invokeExact(ctx);
                n.modelFree.invokeExact(model);
                throw new IllegalStateException("llama_context_params layout mismatch: asked n_ctx=" + options.contextLength()
                        + " n_batch=" + options.batchSize() + " threads=" + options.threads() + ", got " + nCtx + ", "
                        + nBatch + ", " + nThreads);
            }
            return new LlamaCpp(model, ctx, options, bufferTypes(loadLog));
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("llama.cpp call failed: " + t, t);
        }
    }

    /**
     * The context's thread counts ({@code int32 n_threads, n_threads_batch}) follow a few uint32 fields whose number
     * changed between versions. Defaults put GGML_DEFAULT_N_THREADS (4) in both: find that pair after n_seq_max and
     * lower it, so context creation never runs more threads than asked (more threads than cores hung here).
     * Returns the offset of n_threads, or -1 when the pair was not found.
     * {@link #open} checks the result through {@code llama_n_threads}.
     */
    private static long setDefaultThreads(MemorySegment ctxParams, int threads) {
        for (long off = 16; off <= 40; off += 4) {
            if (ctxParams.get(JAVA_INT, off) == 4 && ctxParams.get(JAVA_INT, off + 4) == 4) {
                ctxParams.set(JAVA_INT, off, threads);
                ctxParams.set(JAVA_INT, off + 4, threads);
                return off;
            }
        }
        return -1;
    }

    /**
     * An f32 KV cache ({@code enum ggml_type type_k, type_v}, GGML_TYPE_F32 = 0) and flash attention off
     * ({@code enum llama_flash_attn_type flash_attn_type}, DISABLED = 0). Their offsets moved between versions, so
     * they are found by their default values: flash_attn_type is the last of the four -1 enums (rope scaling, pooling,
     * attention type, flash attention) that follow the thread counts (at {@code threads}); type_k and type_v are the first pair of
     * GGML_TYPE_F16 (1) after two NULL pointers (cb_eval, cb_eval_user_data) that follow the float parameters.
     * {@link #open} then checks llama.cpp's log of the context.
     */
    private static void setF32Attention(MemorySegment p, long threads) {
        long fa = -1;
        for (long off = threads + 8; threads > 0 && off <= threads + 16; off += 4) {
            if (p.get(JAVA_INT, off) == -1 && p.get(JAVA_INT, off + 4) == -1 && p.get(JAVA_INT, off + 8) == -1
                    && p.get(JAVA_INT, off + 12) == -1 && p.get(JAVA_INT, off + 16) != -1) {
                fa = off + 12;
                break;
            }
        }
        long kv = -1;
        for (long off = (fa + 8 + 7) / 8 * 8; fa > 0 && off + 24 <= PARAMS_BYTES && off < fa + 96; off += 8) {
            if (p.get(JAVA_LONG, off) == 0 && p.get(JAVA_LONG, off + 8) == 0
                    && p.get(JAVA_INT, off + 16) == 1 && p.get(JAVA_INT, off + 20) == 1) {
                kv = off + 16;
                break;
            }
        }
        if (fa < 0 || kv < 0) {
            throw new IllegalStateException("llama_context_params layout not recognised: flash_attn_type at " + fa
                    + ", type_k at " + kv);
        }
        p.set(JAVA_INT, fa, 0);
        p.set(JAVA_INT, kv, 0);
        p.set(JAVA_INT, kv + 4, 0);
    }

    public Options options() {
        return options;
    }

    public int vocabSize() {
        return vocabSize;
    }

    /** llama.cpp's tokenizer: {@code addSpecial} adds {@code <bos>}, {@code parseSpecial} matches control tokens. */
    public synchronized int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        checkOpen();
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment textSeg = tmp.allocate(Math.max(1, utf8.length));
            MemorySegment.copy(utf8, 0, textSeg, JAVA_BYTE, 0, utf8.length);
            int capacity = utf8.length + 8;
            MemorySegment out = tmp.allocate(JAVA_INT, capacity);
            int n = (int) Native.get().tokenize.invokeExact(vocab, textSeg, utf8.length, out, capacity, addSpecial, parseSpecial);
            if (n < 0) {
                capacity = -n;
                out = tmp.allocate(JAVA_INT, capacity);
                n = (int) Native.get().tokenize.invokeExact(vocab, textSeg, utf8.length, out, capacity, addSpecial, parseSpecial);
            }
            if (n < 0) {
                throw new IllegalStateException("llama_tokenize failed: " + n);
            }
            return out.asSlice(0, (long) n * 4).toArray(JAVA_INT);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("llama_tokenize failed: " + t, t);
        }
    }

    /** Bytes of one token as llama.cpp renders it (special tokens rendered too). */
    public synchronized byte[] tokenPiece(int token) {
        checkOpen();
        checkToken(token);
        try (Arena tmp = Arena.ofConfined()) {
            int cap = 256;
            MemorySegment buf = tmp.allocate(cap);
            int n = (int) Native.get().tokenToPiece.invokeExact(vocab, token, buf, cap, 0, true);
            if (n < 0) {
                cap = -n;
                buf = tmp.allocate(cap);
                n = (int) Native.get().tokenToPiece.invokeExact(vocab, token, buf, cap, 0, true);
            }
            return buf.asSlice(0, n).toArray(JAVA_BYTE);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("llama_token_to_piece failed: " + t, t);
        }
    }

    /** The model's {@code tokenizer.chat_template} as llama.cpp reads it, or null. */
    public synchronized String chatTemplate() {
        checkOpen();
        try {
            MemorySegment s = (MemorySegment) Native.get().modelChatTemplate.invokeExact(model, MemorySegment.NULL);
            return s.equals(MemorySegment.NULL) ? null : s.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException("llama_model_chat_template failed: " + t, t);
        }
    }

    /**
     * llama.cpp's built-in rendering of the model's chat template ({@code llama_chat_apply_template}); when the
     * GGUF has no {@code tokenizer.chat_template} (the 270M file here has none), llama.cpp's built-in {@code gemma}.
     *
     * @param messages role/content pairs, in order
     */
    public synchronized String applyChatTemplate(List<GemmaTokenizer.ChatMessage> messages, boolean addAssistant) {
        checkOpen();
        String template = chatTemplate();
        try (Arena tmp = Arena.ofConfined()) {
            // struct llama_chat_message { const char * role; const char * content; }
            MemorySegment chat = tmp.allocate(16L * Math.max(1, messages.size()), 8);
            int chars = 0;
            for (int i = 0; i < messages.size(); i++) {
                chat.set(ADDRESS, 16L * i, tmp.allocateFrom(messages.get(i).role()));
                chat.set(ADDRESS, 16L * i + 8, tmp.allocateFrom(messages.get(i).content()));
                chars += messages.get(i).role().length() + messages.get(i).content().length();
            }
            MemorySegment tmpl = tmp.allocateFrom(template == null ? "gemma" : template);
            int cap = 4 * chars + 1024;
            MemorySegment buf = tmp.allocate(cap);
            int n = (int) Native.get().chatApplyTemplate.invokeExact(tmpl, chat, (long) messages.size(), addAssistant, buf, cap);
            if (n > cap) {
                cap = n;
                buf = tmp.allocate(cap);
                n = (int) Native.get().chatApplyTemplate.invokeExact(tmpl, chat, (long) messages.size(), addAssistant, buf, cap);
            }
            if (n < 0) {
                throw new IllegalStateException("llama_chat_apply_template does not support this model's template");
            }
            return new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("llama_chat_apply_template failed: " + t, t);
        }
    }

    /** Clears the KV cache, runs the prompt from position 0 and returns the logits of its last token. */
    public synchronized float[] logitsAfter(int[] tokens) {
        checkOpen();
        if (tokens.length == 0) {
            throw new IllegalArgumentException("logitsAfter needs at least one token");
        }
        clearMemory();
        decode(tokens);
        return lastLogits();
    }

    /** Greedy generation: the prompt from an empty cache, then {@code n} argmax tokens (each fed back). */
    public synchronized int[] greedy(int[] prompt, int n) {
        return greedyTrace(prompt, n, 1).tokens();
    }

    /**
     * Greedy tokens and, for each step, the {@code k} best ids with their logits (best first), as llama.cpp saw them
     * on its incremental decode path. (A fresh prefill of the same tokens goes through llama.cpp's batched kernels
     * and gives logits that differ by ~0.1 from these.)
     */
    public record Trace(int[] tokens, int[][] topIds, float[][] topLogits) {
    }

    /** {@link #greedy} with the top-{@code k} of every step. */
    public synchronized Trace greedyTrace(int[] prompt, int n, int k) {
        checkOpen();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("greedy needs a non-empty prompt");
        }
        clearMemory();
        decode(prompt);
        int[] out = new int[n];
        int[][] ids = new int[n][];
        float[][] vals = new float[n][];
        for (int i = 0; i < n; i++) {
            float[] logits = lastLogits();
            ids[i] = topK(logits, k);
            vals[i] = new float[k];
            for (int j = 0; j < k; j++) {
                vals[i][j] = logits[ids[i][j]];
            }
            out[i] = ids[i][0];
            if (i + 1 < n) {
                decode(new int[] {out[i]});
            }
        }
        return new Trace(out, ids, vals);
    }

    /** Ids of the k largest values, largest first (the lowest id first among equals, as {@link TokenSampler#argmax}). */
    static int[] topK(float[] v, int k) {
        int[] best = new int[k];
        java.util.Arrays.fill(best, -1);
        for (int i = 0; i < v.length; i++) {
            int pos = k;
            while (pos > 0 && (best[pos - 1] < 0 || v[i] > v[best[pos - 1]])) {
                pos--;
            }
            if (pos < k) {
                System.arraycopy(best, pos, best, pos + 1, k - pos - 1);
                best[pos] = i;
            }
        }
        return best;
    }

    /**
     * Times a prefill of {@code prompt} (from an empty cache) and then {@code decodeTokens} single-token decodes,
     * feeding back the argmax each time (the logits are read, as a server would).
     */
    public synchronized Timing benchmark(int[] prompt, int decodeTokens) {
        checkOpen();
        clearMemory();
        long t0 = System.nanoTime();
        decode(prompt);
        float[] logits = lastLogits();
        long t1 = System.nanoTime();
        for (int i = 0; i < decodeTokens; i++) {
            decode(new int[] {TokenSampler.argmax(logits)});
            logits = lastLogits();
        }
        long t2 = System.nanoTime();
        return new Timing(prompt.length, t1 - t0, decodeTokens, t2 - t1);
    }

    /** Changes the decode and prompt-batch thread counts. */
    public synchronized void setThreads(int threads) {
        checkOpen();
        try {
            Native.get().setNThreads.invokeExact(context, threads, threads);
        } catch (Throwable t) {
            throw new IllegalStateException("llama_set_n_threads failed: " + t, t);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Native.get().free.invokeExact(context);
            Native.get().modelFree.invokeExact(model);
        } catch (Throwable t) {
            throw new IllegalStateException("llama.cpp free failed: " + t, t);
        } finally {
            arena.close();
        }
    }

    private void clearMemory() {
        try {
            MemorySegment mem = (MemorySegment) Native.get().getMemory.invokeExact(context);
            Native.get().memoryClear.invokeExact(mem, true);
        } catch (Throwable t) {
            throw new IllegalStateException("llama_memory_clear failed: " + t, t);
        }
    }

    /** Appends tokens to the sequence, in chunks of the batch size; only the last token's logits are computed. */
    private void decode(int[] tokens) {
        try (Arena tmp = Arena.ofConfined()) {
            for (int start = 0; start < tokens.length; start += options.batchSize()) {
                int len = Math.min(options.batchSize(), tokens.length - start);
                MemorySegment ids = tmp.allocate(JAVA_INT, len);
                MemorySegment.copy(tokens, start, ids, JAVA_INT, 0, len);
                MemorySegment batch = (MemorySegment) Native.get().batchGetOne.invokeExact(
                        (SegmentAllocator) tmp, ids, len);
                int rc = (int) Native.get().decode.invokeExact(context, batch);
                if (rc != 0) {
                    throw new IllegalStateException("llama_decode returned " + rc + " (1: no KV slot; context of "
                            + options.contextLength() + " positions full?)");
                }
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("llama_decode failed: " + t, t);
        }
    }

    private float[] lastLogits() {
        try {
            MemorySegment p = (MemorySegment) Native.get().getLogitsIth.invokeExact(context, -1);
            if (p.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("llama_get_logits_ith returned NULL");
            }
            return p.reinterpret(4L * vocabSize).toArray(JAVA_FLOAT);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("llama_get_logits_ith failed: " + t, t);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("LlamaCpp is closed");
        }
    }

    private void checkToken(int token) {
        if (token < 0 || token >= vocabSize) {
            throw new IllegalArgumentException("token id " + token + " out of range [0, " + vocabSize + ")");
        }
    }

    /** The libraries and method handles, loaded once per JVM. */
    static final class Native {
        private static volatile Native instance;

        final MethodHandle modelDefaultParams;
        final MethodHandle contextDefaultParams;
        final MethodHandle modelLoadFromFile;
        final MethodHandle initFromModel;
        final MethodHandle modelFree;
        final MethodHandle free;
        final MethodHandle modelGetVocab;
        final MethodHandle vocabNTokens;
        final MethodHandle tokenize;
        final MethodHandle tokenToPiece;
        final MethodHandle batchGetOne;
        final MethodHandle decode;
        final MethodHandle getLogitsIth;
        final MethodHandle getMemory;
        final MethodHandle memoryClear;
        final MethodHandle setNThreads;
        final MethodHandle nCtx;
        final MethodHandle nBatch;
        final MethodHandle nThreads;
        final MethodHandle modelChatTemplate;
        final MethodHandle chatApplyTemplate;
        /** Whether our log callback (which records what {@link #open} checks) is installed. */
        final boolean logCaptured;

        static Native get() {
            Native n = instance;
            if (n == null) {
                synchronized (Native.class) {
                    n = instance;
                    if (n == null) {
                        String why = unavailableReason();
                        if (why != null) {
                            throw new IllegalStateException(why);
                        }
                        instance = n = new Native(libraryDir());
                    }
                }
            }
            return n;
        }

        private Native(Path dir) {
            Linker linker = Linker.nativeLinker();
            Arena global = Arena.global();
            SymbolLookup ggml = SymbolLookup.libraryLookup(dir.resolve(LIB_GGML), global);
            SymbolLookup llama = SymbolLookup.libraryLookup(dir.resolve(LIB_LLAMA), global);
            SymbolLookup all = llama.or(ggml);

            MemoryLayout params = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(PARAMS_BYTES / 8, JAVA_LONG));
            // struct llama_batch { int32 n_tokens; llama_token *token; float *embd; llama_pos *pos;
            //                      int32 *n_seq_id; llama_seq_id **seq_id; int8 *logits; }  (56 bytes)
            MemoryLayout batch = MemoryLayout.structLayout(JAVA_INT.withName("n_tokens"), MemoryLayout.paddingLayout(4),
                    ADDRESS.withName("token"), ADDRESS.withName("embd"), ADDRESS.withName("pos"),
                    ADDRESS.withName("n_seq_id"), ADDRESS.withName("seq_id"), ADDRESS.withName("logits"));

            try {
                // Quiet llama.cpp's and ggml's logging unless GEMMA_LLAMA_LOG is set.
                logCaptured = System.getenv("GEMMA_LLAMA_LOG") == null;
                if (logCaptured) {
                    MethodHandle quiet = MethodHandles.lookup().findStatic(Native.class, "quietLog",
                            MethodType.methodType(void.class, int.class, MemorySegment.class, MemorySegment.class));
                    MemorySegment stub = linker.upcallStub(quiet, FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS), global);
                    MethodHandle logSet = handle(linker, all, "llama_log_set", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
                    logSet.invokeExact(stub, MemorySegment.NULL);
                }
                MethodHandle loadAll = handle(linker, all, "ggml_backend_load_all_from_path", FunctionDescriptor.ofVoid(ADDRESS));
                loadAll.invokeExact(global.allocateFrom(dir.toAbsolutePath().toString()));
                handle(linker, all, "llama_backend_init", FunctionDescriptor.ofVoid()).invokeExact();
            } catch (Throwable t) {
                throw new IllegalStateException("llama.cpp initialisation failed: " + t, t);
            }

            modelDefaultParams = handle(linker, all, "llama_model_default_params", FunctionDescriptor.of(params));
            contextDefaultParams = handle(linker, all, "llama_context_default_params", FunctionDescriptor.of(params));
            modelLoadFromFile = handle(linker, all, "llama_model_load_from_file", FunctionDescriptor.of(ADDRESS, ADDRESS, params));
            initFromModel = handle(linker, all, "llama_init_from_model", FunctionDescriptor.of(ADDRESS, ADDRESS, params));
            modelFree = handle(linker, all, "llama_model_free", FunctionDescriptor.ofVoid(ADDRESS));
            free = handle(linker, all, "llama_free", FunctionDescriptor.ofVoid(ADDRESS));
            modelGetVocab = handle(linker, all, "llama_model_get_vocab", FunctionDescriptor.of(ADDRESS, ADDRESS));
            vocabNTokens = handle(linker, all, "llama_vocab_n_tokens", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            tokenize = handle(linker, all, "llama_tokenize", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_BOOLEAN, JAVA_BOOLEAN));
            tokenToPiece = handle(linker, all, "llama_token_to_piece", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_BOOLEAN));
            batchGetOne = handle(linker, all, "llama_batch_get_one", FunctionDescriptor.of(batch, ADDRESS, JAVA_INT));
            decode = handle(linker, all, "llama_decode", FunctionDescriptor.of(JAVA_INT, ADDRESS, batch));
            getLogitsIth = handle(linker, all, "llama_get_logits_ith", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
            getMemory = handle(linker, all, "llama_get_memory", FunctionDescriptor.of(ADDRESS, ADDRESS));
            memoryClear = handle(linker, all, "llama_memory_clear", FunctionDescriptor.ofVoid(ADDRESS, JAVA_BOOLEAN));
            setNThreads = handle(linker, all, "llama_set_n_threads", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_INT));
            nCtx = handle(linker, all, "llama_n_ctx", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            nBatch = handle(linker, all, "llama_n_batch", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            nThreads = handle(linker, all, "llama_n_threads", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            modelChatTemplate = handle(linker, all, "llama_model_chat_template", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
            chatApplyTemplate = handle(linker, all, "llama_chat_apply_template", FunctionDescriptor.of(JAVA_INT,
                    ADDRESS, ADDRESS, JAVA_LONG, JAVA_BOOLEAN, ADDRESS, JAVA_INT));
        }

        private static MethodHandle handle(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd) {
            MemorySegment symbol = lookup.find(name)
                    .orElseThrow(() -> new IllegalStateException("symbol " + name + " not found in llama.cpp libraries"));
            return linker.downcallHandle(symbol, fd);
        }

        @SuppressWarnings("unused") // upcall target
        private static void quietLog(int level, MemorySegment text, MemorySegment user) {
            if (capture && LOG.length() < 512_000 && !text.equals(MemorySegment.NULL)) {
                LOG.append(text.reinterpret(Integer.MAX_VALUE).getString(0));
            }
        }
    }

    @Override
    public String toString() {
        return "LlamaCpp" + Arrays.asList(options.contextLength(), options.batchSize(), options.threads());
    }
}
