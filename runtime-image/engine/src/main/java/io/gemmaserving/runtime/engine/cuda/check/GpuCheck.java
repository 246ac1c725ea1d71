package io.gemmaserving.runtime.engine.cuda.check;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.cuda.Cuda;
import io.gemmaserving.runtime.engine.cuda.CudaEngine;
import io.gemmaserving.runtime.engine.cuda.KernelSources;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaDriver;
import io.gemmaserving.runtime.engine.cuda.bindings.Nvrtc;
import io.gemmaserving.runtime.engine.model.Architecture;
import io.gemmaserving.runtime.engine.model.GemmaConfig;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import io.gemmaserving.runtime.engine.model.Numerics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What {@code hack/gpu-check.sh} runs on a GPU machine, printing one summary at the end:
 * <ol>
 *   <li>the CUDA engine's logits against the CPU engine's on the tiny fixtures ({@link LogitComparison}'s scenario:
 *       chunked prompts, ring wrap, batched mixed steps, rewind, copy), with small pass limits so that chunking and
 *       rings are exercised on tiny models;</li>
 *   <li>the same on the Gemma 3 270M when its file is there (the device copy of the tree cannot carry it);</li>
 *   <li>decode tokens/s of a gemma-2-9b-shaped BF16 model with random weights made on the device, at batch 1 and 8,
 *       against the memory-bandwidth ceiling (bytes per token / bandwidth);</li>
 *   <li>TP=2 against TP=1 logits (two GPUs, or two ranks on two streams of one).</li>
 * </ol>
 * Exit status: 0 when every comparison passes, 1 when one fails, 2 without a usable GPU ("no GPU: ...").
 *
 * <p>{@code --write-ptx DIR} instead compiles every kernel with NVRTC (no GPU needed) for compute_80 into
 * {@code DIR/<source>.ptx}, for machines that have the driver but no NVRTC.
 */
public final class GpuCheck {

    /**
     * Tolerances, relative to the reference's largest |logit|: f32 weights compare f32 arithmetic in another order
     * (1e-3); 16-bit and quantized weights go through cuBLAS with activations rounded to bf16/f16 in the prefill
     * products (3e-2); the 270M adds 18 layers of that (5e-2). These compare f32 KV caches on both sides.
     */
    static final double TOL_F32 = 1e-3;
    static final double TOL_ROUNDED = 3e-2;
    static final double TOL_270M = 5e-2;
    /** Added where both engines keep f16 keys and values: KvCacheTypeTest's bound on what f16 moves (5e-3). */
    static final double TOL_F16_KV = 5e-3;

    private final List<String> summary = new ArrayList<>();
    private boolean failed;

    public static void main(String[] args) throws Exception {
        Path fixtures = null;
        Path ptx = null;
        Path model270m = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--write-ptx" -> {
                    writePtx(Path.of(args[++i]));
                    return;
                }
                case "--fixtures" -> fixtures = Path.of(args[++i]);
                case "--ptx" -> ptx = Path.of(args[++i]);
                case "--model-270m" -> model270m = Path.of(args[++i]);
                default -> {
                    System.err.println("unknown argument " + args[i]
                            + " (--fixtures DIR [--ptx DIR] [--model-270m FILE] | --write-ptx DIR)");
                    System.exit(2);
                }
            }
        }
        if (fixtures == null) {
            System.err.println("--fixtures DIR is required");
            System.exit(2);
        }
        Cuda.Availability gpu = Cuda.availability();
        if (!gpu.available()) {
            System.out.println("no GPU: " + gpu.message());
            System.exit(2);
        }
        GpuCheck check = new GpuCheck();
        System.exit(check.run(gpu, fixtures, ptx, model270m));
    }

    private static void writePtx(Path dir) throws Exception {
        Files.createDirectories(dir);
        Nvrtc nvrtc = Nvrtc.load();
        for (String file : KernelSources.ENTRIES.keySet()) {
            Files.writeString(dir.resolve(file.replace(".cu", ".ptx")), KernelSources.compile(nvrtc, file, 80));
        }
        int[] v = nvrtc.version();
        System.out.println("wrote " + KernelSources.ENTRIES.size() + " PTX files for compute_80 (NVRTC " + v[0] + "."
                + v[1] + ") to " + dir);
    }

    int run(Cuda.Availability gpu, Path fixtures, Path ptx, Path model270m) {
        long t0 = System.nanoTime();
        // Pass limits small enough that the tiny models' 80-token prompts are cut into chunks of 24 (cuBLAS) and 8
        // (matvec) and their sliding-window rings (4 + 23 + 32 slots) wrap.
        CudaEngine.Settings small = new CudaEngine.Settings(32, 8, 24, 32, true, ptx, true);
        CudaEngine.Settings serving = CudaEngine.Settings.defaults().withPtxDir(ptx);
        String device;
        CudaDriver cu = CudaDriver.load();
        cu.init();
        device = cu.deviceName(cu.device(0)) + ", " + gpu.message();

        for (String f : List.of("tiny-gemma1-f32.gguf", "tiny-gemma2-f32.gguf", "tiny-gemma3-f16.gguf",
                "tiny-gemma3-q8_0.gguf", "tiny-gemma3")) {
            double tol = f.contains("f32") ? TOL_F32 : TOL_ROUNDED;
            section("fixture " + f, () -> {
                try (Engine cpu = ModelLoader.load(fixtures.resolve(f), cpu(KvCacheType.F32));
                     Engine gpuEngine = CudaEngine.open(fixtures.resolve(f), cuda(1, KvCacheType.F32), small)) {
                    LogitComparison.Result r = LogitComparison.compare(LogitComparison.scenario(cpu, 80, 1),
                            LogitComparison.scenario(gpuEngine, 80, 1));
                    return verdict(r, tol);
                }
            });
        }

        // The default f16 KV cache on both engines: each rounds its own keys and values, so a last-bit difference
        // upstream can land a value on the other side of a half's rounding; at most what f16 vs f32 moves (KvCacheTypeTest).
        for (String f : List.of("tiny-gemma2-f32.gguf", "tiny-gemma3-q8_0.gguf")) {
            double tol = (f.contains("f32") ? TOL_F32 : TOL_ROUNDED) + TOL_F16_KV;
            section("fixture " + f + ", f16 KV on both", () -> {
                try (Engine cpu = ModelLoader.load(fixtures.resolve(f), cpu(KvCacheType.F16));
                     Engine gpuEngine = CudaEngine.open(fixtures.resolve(f), cuda(1, KvCacheType.F16), small)) {
                    LogitComparison.Result r = LogitComparison.compare(LogitComparison.scenario(cpu, 80, 1),
                            LogitComparison.scenario(gpuEngine, 80, 1));
                    return verdict(r, tol);
                }
            });
        }

        if (model270m == null || !Files.isRegularFile(model270m)) {
            summary.add("SKIP  270M: " + (model270m == null ? "no --model-270m given" : model270m + " is absent")
                    + " (the device copy of the tree carries at most 64 MiB; the file is 253 MB)");
        } else {
            section("270M " + model270m.getFileName(), () -> {
                try (Engine cpu = ModelLoader.load(model270m, cpu(KvCacheType.F32));
                     Engine gpuEngine = CudaEngine.open(model270m, cuda(1, KvCacheType.F32), serving)) {
                    LogitComparison.Result r = LogitComparison.compare(LogitComparison.scenario(cpu, 40, 2),
                            LogitComparison.scenario(gpuEngine, 40, 2));
                    return verdict(r, TOL_270M);
                }
            });
        }

        GemmaConfig nineB = gemma2_9b();
        double tokenBytes = CudaEngine.bf16Bytes(nineB);
        Bandwidth.Figures bw = Bandwidth.measure(cu, 0, 1L << 30, 10);
        section("decode gemma-2-9b shape, bf16, random weights", () -> {
            try (CudaEngine e = CudaEngine.synthetic("gemma-2-9b-shaped", nineB, 1, serving, 9)) {
                double one = DecodeBench.tokensPerSecond(e, 1, 32, 4, 64, 3);
                double eight = DecodeBench.tokensPerSecond(e, 8, 32, 4, 32, 4);
                double ceiling = (bw.peak() > 0 ? bw.peak() : bw.copy()) / tokenBytes;
                double copyCeiling = bw.copy() / tokenBytes;
                return String.format(Locale.ROOT, "INFO  batch 1: %.1f tok/s = %.0f %% of the HBM ceiling %.1f tok/s"
                                + " (%.2f GB per token / %.2f TB/s peak; %.1f tok/s at the measured copy bandwidth"
                                + " %.2f TB/s); batch 8: %.1f tok/s aggregate; %d CUDA graphs; %s",
                        one, 100 * one / ceiling, ceiling, tokenBytes / 1e9, bw.peak() / 1e12, copyCeiling,
                        bw.copy() / 1e12, eight, e.graphCount(), e.description());
            }
        });

        for (String f : List.of("tiny-gemma2-f32.gguf", "tiny-gemma3-q8_0.gguf")) {
            double tol = f.contains("f32") ? TOL_F32 : TOL_ROUNDED;
            section("TP=2 vs TP=1 " + f, () -> {
                try (Engine one = CudaEngine.open(fixtures.resolve(f), cuda(1, KvCacheType.F32), small);
                     Engine two = CudaEngine.open(fixtures.resolve(f), cuda(2, KvCacheType.F32), small)) {
                    LogitComparison.Result r = LogitComparison.compare(LogitComparison.scenario(one, 80, 5),
                            LogitComparison.scenario(two, 80, 5));
                    return verdict(r, tol) + "; " + two.description();
                }
            });
        }

        System.out.println();
        System.out.println("==== GPU CHECK SUMMARY (" + device + ") ====");
        summary.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "==== %s in %.0f s ====%n", failed ? "FAILED" : "PASSED",
                (System.nanoTime() - t0) / 1e9);
        return failed ? 1 : 0;
    }

    private interface Section {
        String run() throws Exception;
    }

    private void section(String name, Section s) {
        System.out.println("-- " + name);
        String line;
        try {
            line = s.run();
        } catch (Exception | Error e) {
            line = "FAIL  " + e.getClass().getSimpleName() + ": " + e.getMessage();
            e.printStackTrace(System.out);
        }
        if (line.startsWith("FAIL")) {
            failed = true;
        }
        System.out.println(line);
        summary.add(line.substring(0, 6) + name + ": " + line.substring(6));
    }

    /** The CPU reference: the vector backend in float32, every core, this KV type. */
    private static EngineOptions cpu(KvCacheType kv) {
        return new EngineOptions("vector", 0, 1, Numerics.F32, kv);
    }

    /** The CUDA engine over {@code tensorParallel} GPUs with this KV type. */
    private static EngineOptions cuda(int tensorParallel, KvCacheType kv) {
        return new EngineOptions("cuda", 0, tensorParallel, null, kv);
    }

    private static String verdict(LogitComparison.Result r, double tol) {
        return (r.relative() <= tol ? "PASS  " : "FAIL  ") + r.describe() + String.format(Locale.ROOT, " (tolerance %.0e)", tol);
    }

    /** gemma-2-9b's shape (its config.json): 42 layers, hidden 3584, 16 heads / 8 KV heads of 256, FFN 14336. */
    static GemmaConfig gemma2_9b() {
        int layers = 42;
        boolean[] local = new boolean[layers];
        for (int i = 0; i < layers; i++) {
            local[i] = i % 2 == 0;
        }
        return new GemmaConfig(Architecture.GEMMA2, 3584, layers, 16, 8, 256, 14336, 256000, 8192, 1e-6f, 10000f, 10000f, 1f,
                256f, 50f, 30f, 4096, local, true, false, (float) Math.sqrt(3584), false);
    }
}
