package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.cuda.bindings.Nvrtc;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every kernel source compiles with NVRTC (through our FFM bindings) for Ampere (compute_80) and Hopper
 * (compute_90), and its PTX defines exactly the expected {@code .entry} points. NVRTC needs no GPU; it comes from
 * the PyPI wheel hack/setup.d/40-cuda-nvrtc.sh installs (GEMMA_CUDA_LIB_PATH). Skips when NVRTC is absent.
 * {@link KernelSourcesTest} checks that {@link KernelSources#ENTRIES} lists every source and kernel.
 */
@Tag("unit")
class KernelCompileTest {

    private static Nvrtc nvrtc;
    private static String missing;

    @BeforeAll
    static void loadNvrtc() {
        try {
            nvrtc = Nvrtc.load();
        } catch (CudaException e) {
            missing = e.getMessage();
        }
    }

    static Stream<Arguments> sourcesAndArchs() {
        return KernelSources.ENTRIES.keySet().stream()
                .flatMap(file -> Stream.of(80, 90).map(cc -> Arguments.of(file, cc)));
    }

    @ParameterizedTest(name = "{0} for compute_{1}")
    @MethodSource("sourcesAndArchs")
    void compilesToPtxWithTheExpectedEntries(String file, int cc) {
        assumeTrue(nvrtc != null, "NVRTC not available: " + missing + " (run hack/setup.sh cuda-nvrtc)");
        String ptx = KernelSources.compile(nvrtc, file, cc);
        assertFalse(ptx.isBlank(), "empty PTX for " + file);
        assertTrue(ptx.contains(".target sm_" + cc), file + ": PTX targets the wrong architecture");
        Matcher m = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(").matcher(ptx);
        List<String> entries = m.results().map(r -> r.group(1)).sorted().toList();
        assertEquals(KernelSources.ENTRIES.get(file).stream().sorted().toList(), entries, file + " entries");
    }

    @Test
    void aCompileErrorIsOneExceptionNamingTheCallAndCarryingTheLog() {
        assumeTrue(nvrtc != null, "NVRTC not available: " + missing);
        CudaException e = assertThrows(CudaException.class, () -> nvrtc.compileToPtx(
                "extern \"C\" __global__ void k(float* x) { x[0] = undefined_name; }", "broken.cu", Map.of(),
                KernelSources.options(90)));
        assertTrue(e.getMessage().startsWith("nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (6): broken.cu"),
                e.getMessage());
        assertTrue(e.getMessage().contains("undefined_name"), "compiler log missing: " + e.getMessage());
    }

    @Test
    void reportsItsVersion() {
        assumeTrue(nvrtc != null, "NVRTC not available: " + missing);
        int[] v = nvrtc.version();
        assertTrue(v[0] >= 11, "NVRTC major version " + v[0]);
    }

    @Test
    void rejectsANonsenseComputeCapability() {
        assertThrows(IllegalArgumentException.class, () -> KernelSources.options(9));
    }
}
