package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Nvrtc;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CUDA C++ kernel sources (classpath {@code /cuda/*.cu}, sharing {@code common.cuh}) and their compilation to
 * PTX with NVRTC at start-up, for the compute capability of the device at hand. Every kernel is {@code extern "C"},
 * so its PTX {@code .entry} and {@code cuModuleGetFunction} name is the C name listed in {@link #ENTRIES}.
 */
public final class KernelSources {

    /** Source file -> the kernels it defines. */
    public static final Map<String, List<String>> ENTRIES;

    static {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("quant.cu", List.of("matvec", "matvec_bf16", "dequant_bf16", "embed"));
        m.put("norm.cu", List.of("rmsnorm"));
        m.put("rope.cu", List.of("rope_neox"));
        m.put("elementwise.cu", List.of("geglu", "add_inplace", "softcap", "to_bf16", "to_f16", "gather_rows",
                "fill_random_bf16", "fill_random_f32"));
        m.put("attention.cu", List.of("kv_store", "kv_store_f16", "attention", "attention_f16"));
        ENTRIES = java.util.Collections.unmodifiableMap(m);
    }

    /** Headers every source may include. */
    public static final List<String> HEADERS = List.of("common.cuh");

    private KernelSources() {
    }

    /** The text of classpath resource {@code /cuda/<file>}. */
    public static String read(String file) {
        try (InputStream in = KernelSources.class.getResourceAsStream("/cuda/" + file)) {
            if (in == null) {
                throw new IllegalStateException("kernel source /cuda/" + file + " is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** NVRTC options for a compute capability given as 10 * major + minor (80 = A100, 90 = H100). */
    public static List<String> options(int computeCapability) {
        if (computeCapability < 50 || computeCapability > 200) {
            throw new IllegalArgumentException("compute capability " + computeCapability
                    + " is out of range (10 * major + minor, e.g. 80 or 90)");
        }
        return List.of("--gpu-architecture=compute_" + computeCapability, "--std=c++17", "-lineinfo");
    }

    /** Compiles one source file to PTX for {@code computeCapability}. */
    public static String compile(Nvrtc nvrtc, String file, int computeCapability) {
        Map<String, String> headers = new LinkedHashMap<>();
        for (String h : HEADERS) {
            headers.put(h, read(h));
        }
        return nvrtc.compileToPtx(read(file), file, headers, options(computeCapability));
    }

}
