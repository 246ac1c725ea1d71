package io.gemmaserving.runtime.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gemmaserving.runtime.engine.GemmaTokenizer;
import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.backend.Backends;
import io.gemmaserving.runtime.engine.gguf.GgufFile;
import io.gemmaserving.runtime.engine.safetensors.SafetensorsDirectory;
import io.gemmaserving.runtime.engine.tokenizer.SentencePieceTokenizer;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Loads a Gemma model: a {@code .gguf} file (weights memory-mapped, tokenizer from the GGUF metadata) or a Hugging
 * Face directory ({@code config.json}, {@code tokenizer.json}, {@code *.safetensors}).
 */
public final class ModelLoader {

    private static final System.Logger LOG = System.getLogger(ModelLoader.class.getName());

    private ModelLoader() {
    }

    public static GemmaModel load(Path path) throws IOException {
        return load(path, EngineOptions.defaults());
    }

    /**
     * Loads on the CPU backend {@code options.backend()} names ({@code auto}, {@code cpu}, {@code vector},
     * {@code scalar}; see {@link Backends#select}) with {@code options.threads()} threads.
     *
     * @throws IllegalArgumentException with a one-line message for a missing path, a file that is not a Gemma, or a
     *                                  tensor-parallel size above 1 (the CPU engine runs on one host)
     */
    public static GemmaModel load(Path path, EngineOptions options) throws IOException {
        return load(path, options, UnaryOperator.identity());
    }

    /**
     * As {@link #load(Path, EngineOptions)}, with the chosen backend wrapped by {@code decorate} (the benchmark's
     * timing decorator).
     */
    public static GemmaModel load(Path path, EngineOptions options, UnaryOperator<Backend> decorate) throws IOException {
        if (options.tensorParallelSize() > 1) {
            throw new IllegalArgumentException("--tensor-parallel-size " + options.tensorParallelSize()
                    + " needs the CUDA backend; the CPU engine runs on one host");
        }
        if (!Files.exists(path)) {
            throw new IllegalArgumentException(path + ": no such file or directory");
        }
        int threads = options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
        long t0 = System.nanoTime();
        GemmaModel m = Files.isDirectory(path) ? loadHf(path, options, threads, decorate)
                : loadGguf(path, options, threads, decorate);
        double s = (System.nanoTime() - t0) / 1e9;
        double mb = m.info().weightBytes() / 1e6;
        LOG.log(Level.INFO, String.format("Loaded %s (%s%s) in %.2f s: %.0f MB of weights, %.0f MB/s; %s",
                m.info().name(), m.backend().name(), m.numerics() == Numerics.F32 ? "" : ", numerics " + m.numerics(),
                s, mb, mb / s, m.config()));
        return m;
    }

    /**
     * A model's files, bound but not yet given to an engine: its config, its weights (memory-mapped, any format),
     * its tokenizer (null when a Hugging Face directory has no tokenizer.json) and the open files, closed with it.
     * The CPU engine computes on these; the CUDA engine uploads them.
     */
    public record Bound(String name, GemmaConfig config, GemmaWeights weights, GemmaTokenizer tokenizer,
                        AutoCloseable files) implements AutoCloseable {
        @Override
        public void close() {
            try {
                files.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + name + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Opens and binds a {@code .gguf} file or a Hugging Face directory.
     *
     * @throws IllegalArgumentException with a one-line message for a missing path or a file that is not a Gemma
     */
    public static Bound bind(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new IllegalArgumentException(path + ": no such file or directory");
        }
        return Files.isDirectory(path) ? bindHf(path) : bindGguf(path);
    }

    private static GemmaModel loadGguf(Path file, EngineOptions options, int threads, UnaryOperator<Backend> decorate)
            throws IOException {
        Bound b = bindGguf(file);
        try {
            pageIn((GgufFile) b.files(), b.name());
            return onCpu(b, options, threads, decorate);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }

    private static GemmaModel loadHf(Path dir, EngineOptions options, int threads, UnaryOperator<Backend> decorate)
            throws IOException {
        Bound b = bindHf(dir);
        try {
            return onCpu(b, options, threads, decorate);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }

    private static GemmaModel onCpu(Bound b, EngineOptions options, int threads, UnaryOperator<Backend> decorate) {
        Backend backend = decorate.apply(Backends.select(options.backend(), threads));
        try {
            return new GemmaModel(b.name(), b.config(), b.weights(), b.tokenizer(), backend, b.files(),
                    options.numerics(), options.kvCacheType());
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    private static Bound bindGguf(Path file) throws IOException {
        String name = String.valueOf(file.getFileName());
        GgufFile gguf = GgufFile.open(file);
        try {
            GemmaConfig cfg = GemmaConfig.fromGguf(gguf.metadata(), name);
            GemmaWeights w = GemmaWeights.bind(cfg, n -> gguf.hasTensor(n) ? gguf.tensor(n) : null, name);
            GemmaTokenizer tok = SentencePieceTokenizer.fromGguf(gguf);
            return new Bound(name, cfg, w, tok, gguf);
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    private static Bound bindHf(Path dir) throws IOException {
        String name = String.valueOf(dir.getFileName());
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new IllegalArgumentException(dir + ": no config.json (a model directory holds config.json, tokenizer.json, *.safetensors)");
        }
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(config.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(config + ": not valid JSON");
        }
        GemmaConfig cfg = GemmaConfig.fromHfConfig(json, name);
        SafetensorsDirectory st = SafetensorsDirectory.open(dir);
        try {
            Map<String, String> names = HfNames.ggufToHf(st.tensorNames(), cfg.architecture());
            GemmaWeights w = GemmaWeights.bind(cfg, g -> names.containsKey(g) ? st.tensor(names.get(g)) : null, name);
            Path tj = dir.resolve("tokenizer.json");
            GemmaTokenizer tok = Files.isRegularFile(tj) ? SentencePieceTokenizer.fromTokenizerJson(tj) : null;
            if (tok == null) {
                LOG.log(Level.WARNING, dir + ": no tokenizer.json; the model takes token ids only");
            }
            return new Bound(name, cfg, w, tok, st);
        } catch (RuntimeException e) {
            st.close();
            throw e;
        }
    }

    /** Touches every page of the mapped weights once, logging progress (percent, MB/s), so the first request is not slow. */
    private static void pageIn(GgufFile gguf, String name) {
        var seg = gguf.segment();
        long size = seg.byteSize();
        long start = System.nanoTime();
        long nextLog = size / 4;
        long sum = 0;
        for (long off = gguf.dataOffset(); off < size; off += 4096) {
            sum += seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off);
            if (off >= nextLog) {
                double s = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
                LOG.log(Level.INFO, String.format("Loading %s: %d%% (%.0f MB/s)", name, off * 100 / size, off / 1e6 / s));
                nextLog += size / 4;
            }
        }
        if (sum == 42) { // keeps the reads from being optimized away
            LOG.log(Level.TRACE, "");
        }
    }

    /** One short forward pass so the JIT compiles the hot loops before the first real request. */
    public static void warmUp(Engine model) {
        Engine.KvCache c = model.newKvCache(8);
        model.step(List.of(new Engine.Step(c, new int[] {2, 2, 2, 2}, true)));
        model.step(List.of(new Engine.Step(c, new int[] {2}, true)));
    }
}
