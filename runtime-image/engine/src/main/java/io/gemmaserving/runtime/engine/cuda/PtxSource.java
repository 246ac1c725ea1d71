package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Nvrtc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the kernels' PTX comes from: NVRTC at start-up for the device's compute capability, or a folder of
 * {@code <source>.ptx} files compiled ahead of time ({@code hack/gpu-check.sh --prepare}), so a machine with only the
 * NVIDIA driver (no toolkit, no NVRTC) runs the engine: the driver JIT-compiles PTX for its GPU.
 */
public interface PtxSource {

    /** PTX text of {@code file} (e.g. {@code quant.cu}) for a device of compute capability {@code cc}. */
    String ptx(String file, int cc);

    /** One line for the start-up log. */
    String describe();

    static PtxSource nvrtc(Nvrtc nvrtc) {
        return new PtxSource() {
            @Override
            public String ptx(String file, int cc) {
                return KernelSources.compile(nvrtc, file, cc);
            }

            @Override
            public String describe() {
                int[] v = nvrtc.version();
                return "kernels compiled by NVRTC " + v[0] + "." + v[1];
            }
        };
    }

    /** {@code dir/<source>.ptx}, compiled for one (lower or equal) architecture; the driver JITs it upwards. */
    static PtxSource directory(Path dir) {
        return new PtxSource() {
            @Override
            public String ptx(String file, int cc) {
                Path p = dir.resolve(file.replace(".cu", ".ptx"));
                try {
                    return Files.readString(p);
                } catch (IOException e) {
                    throw new UncheckedIOException("kernel PTX " + p + " is missing (run hack/gpu-check.sh --prepare)", e);
                }
            }

            @Override
            public String describe() {
                return "kernels from PTX files in " + dir;
            }
        };
    }

    /**
     * The PTX text with its {@code .version} directive lowered to {@code isa} ("8.4"): PTX from a newer NVRTC than
     * the driver knows is refused (CUDA_ERROR_UNSUPPORTED_PTX_VERSION) even when the kernels use nothing new. Used
     * only as the retry after that refusal, and said so in the log.
     */
    static String withIsaVersion(String ptx, String isa) {
        Matcher m = Pattern.compile("(?m)^\\.version\\s+\\d+\\.\\d+\\s*$").matcher(ptx);
        return m.find() ? m.replaceFirst(".version " + isa) : ptx;
    }

    /** Highest PTX ISA a driver of CUDA version {@code driverVersion} (1000 * major + 10 * minor) accepts. */
    static String isaForDriver(int driverVersion) {
        int major = driverVersion / 1000;
        int minor = (driverVersion % 1000) / 10;
        if (major >= 13) {
            return "9." + minor;
        }
        if (major == 12) {
            // CUDA 12.0 .. 12.5 -> PTX 8.0 .. 8.5; 12.6 kept 8.5; 12.8 -> 8.7; 12.9 -> 8.8
            int isa = switch (minor) {
                case 0, 1, 2, 3, 4, 5 -> minor;
                case 6, 7 -> 5;
                case 8 -> 7;
                default -> 8;
            };
            return "8." + isa;
        }
        return "7." + Math.min(8, minor); // CUDA 11.x: PTX 7.0 .. 7.8
    }
}
