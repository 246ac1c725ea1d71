package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaLibraries;
import io.gemmaserving.runtime.engine.cuda.bindings.ErrorNames;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Availability reasons, error names and library lookup, without a GPU. */
@Tag("unit")
class CudaSelectionTest {

    record FakeProbe(String loadFailure, int initRc, int count) implements Cuda.Probe {
        public void load() {
            if (loadFailure != null) throw new CudaException(loadFailure);
        }
        public int init() { return initRc; }
        public int deviceCount() { return count; }
        public int driverVersion() { return 12040; }
    }

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
