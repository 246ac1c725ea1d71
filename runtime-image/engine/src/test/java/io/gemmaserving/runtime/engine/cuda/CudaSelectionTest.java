package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaLibraries;
import io.gemmaserving.runtime.engine.cuda.bindings.ErrorNames;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Availability reasons, backend selection and library lookup, without a GPU. */
class CudaSelectionTest {

    record FakeProbe(String loadFailure, int initRc, int count) implements Cuda.Probe {
        public void load() {
            if (loadFailure != null) throw new CudaException(loadFailure);
        }
        public int init() { return initRc; }
        public int deviceCount() { return count; }
        public int driverVersion() { return 12040; }
    }

    static final Backend CPU = new Backend() {
        public String name() { return "cpu"; }
        public void matmul(WeightTensor w, float[] x, float[] out, int batch) { }
    };

    @Test
    void availabilityReasonsAreOneLine() {
        assertEquals("no NVIDIA driver: libcuda.so.1 not found",
                Cuda.probe(new FakeProbe("no NVIDIA driver: libcuda.so.1 not found", 0, 0)).message());
        assertEquals("cuInit failed: CUDA_ERROR_NO_DEVICE", Cuda.probe(new FakeProbe(null, 100, 0)).message());
        Cuda.Availability ok = Cuda.probe(new FakeProbe(null, 0, 2));
        assertTrue(ok.available());
        assertEquals("2 CUDA devices, driver 12.4", ok.message());
    }

    @Test
    void thisMachinesAvailabilityIsOneLineAndSaysNoDriverWhenThereIsNone() {
        Cuda.Availability a = Cuda.availability();
        assertFalse(a.message().contains("\n"), a.message());
        boolean driverFile = List.of("/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1",
                "/usr/lib/aarch64-linux-gnu/libcuda.so.1").stream().anyMatch(p -> Files.exists(Path.of(p)));
        if (!driverFile && System.getenv("LD_LIBRARY_PATH") == null) {
            assertEquals(new Cuda.Availability(false, 0, "no NVIDIA driver: libcuda.so.1 not found"), a);
        }
    }

    @Test
    void cudaRefusesWithoutAGpuAndAutoFallsBack() {
        Cuda.Availability none = new Cuda.Availability(false, 0, "no NVIDIA driver: libcuda.so.1 not found");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> CudaBackends.select("cuda", 1, () -> CPU, none, tp -> { throw new AssertionError(); }));
        assertEquals("--backend cuda: no NVIDIA driver: libcuda.so.1 not found", e.getMessage());
        CudaBackends.Selection s = CudaBackends.select("auto", 2, () -> CPU, none, tp -> { throw new AssertionError(); });
        assertSame(CPU, s.backend());
        assertEquals("backend auto: CUDA unavailable (no NVIDIA driver: libcuda.so.1 not found), using the CPU;"
                + " --tensor-parallel-size 2 ignored", s.explanation());
    }

    @Test
    void withGpusTheCudaFactoryGetsTheTpAndTooFewGpusIsRefused() {
        Cuda.Availability two = new Cuda.Availability(true, 2, "2 CUDA devices, driver 12.4");
        int[] asked = {0};
        CudaBackends.Selection s = CudaBackends.select("auto", 2, () -> CPU, two, tp -> { asked[0] = tp; return CPU; });
        assertEquals(2, asked[0]);
        assertEquals("backend auto: cuda on 2 GPUs (2 CUDA devices, driver 12.4)", s.explanation());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> CudaBackends.select("cuda", 4, () -> CPU, two, tp -> CPU));
        assertEquals("--tensor-parallel-size 4 needs 4 GPUs, 2 visible", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CudaBackends.select("cuda", 3, () -> CPU, two, tp -> CPU));
        assertThrows(IllegalArgumentException.class, () -> CudaBackends.select("vector", 1, () -> CPU, two, tp -> CPU));
    }

    @Test
    void errorNamesFollowTheHeaders() {
        assertEquals("CUDA_ERROR_NO_DEVICE", ErrorNames.cuResult(100));
        assertEquals("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", ErrorNames.cuResult(222));
        assertEquals("CUDA_ERROR_12345", ErrorNames.cuResult(12345));
        assertEquals("NVRTC_ERROR_COMPILATION", ErrorNames.nvrtcResult(6));
        assertEquals("CUBLAS_STATUS_NOT_SUPPORTED", ErrorNames.cublasStatus(15));
        assertEquals("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)",
                new CudaException("cuMemAlloc_v2", 2, ErrorNames.cuResult(2)).getMessage());
    }

    @Test
    void libraryLookupPrefersTheNewestVersionAndSkipsSiblings(@TempDir Path dir) throws Exception {
        for (String f : List.of("libnvrtc.so.12", "libnvrtc.so.13", "libnvrtc-builtins.so.13.5", "libcublasLt.so.13",
                "libcublas.so.13.1.0", "libnvrtc.so")) {
            Files.createFile(dir.resolve(f));
        }
        assertEquals(List.of(dir.resolve("libnvrtc.so.13"), dir.resolve("libnvrtc.so.12")),
                CudaLibraries.candidates("libnvrtc", List.of(dir)));
        assertEquals(List.of(dir.resolve("libcublas.so.13.1.0")), CudaLibraries.candidates("libcublas", List.of(dir)));
        assertEquals(List.of(dir), CudaLibraries.searchDirs(dir + "::" + dir.resolve("missing"), null).stream()
                .filter(p -> !p.toString().startsWith("/usr/local/cuda")).toList());
    }
}
