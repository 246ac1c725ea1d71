package io.gemmaserving.runtime.engine.cuda.bindings;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds the CUDA shared libraries.
 *
 * <ul>
 *   <li>the driver, {@code libcuda.so.1}: only from the system loader path (the NVIDIA container toolkit mounts it
 *       into GPU containers; it cannot come from pip);</li>
 *   <li>NVRTC ({@code libnvrtc.so.N}) and cuBLAS ({@code libcublas.so.N}): first from the folders in the environment
 *       variable {@code GEMMA_CUDA_LIB_PATH} (colon-separated; e.g. the {@code nvidia/cu13/lib} folder of the pip
 *       {@code nvidia-*} wheels), then {@code $CUDA_HOME/lib64} and {@code /usr/local/cuda/lib64}, then the system
 *       loader by name, newest major version first.</li>
 * </ul>
 * Libraries are loaded into the global arena: once loaded they stay for the life of the process.
 */
public final class CudaLibraries {

    /** The environment variable naming extra library folders. */
    public static final String LIB_PATH_ENV = "GEMMA_CUDA_LIB_PATH";

    /** Major versions tried by name through the system loader, newest first. */
    private static final int[] SYSTEM_MAJORS = {13, 12, 11, 2}; // 2: libnccl.so.2

    private CudaLibraries() {
    }

    /** The CUDA driver; throws a {@link CudaException} reading "no NVIDIA driver: libcuda.so.1 not found". */
    public static SymbolLookup driver() {
        try {
            return SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
        } catch (IllegalArgumentException notFound) {
            throw new CudaException("no NVIDIA driver: libcuda.so.1 not found");
        }
    }

    /** NVRTC, or a {@link CudaException} naming where it was looked for. */
    public static SymbolLookup nvrtc() {
        return load("libnvrtc");
    }

    /** cuBLAS, or a {@link CudaException} naming where it was looked for. */
    public static SymbolLookup cublas() {
        return load("libcublas");
    }

    /** NCCL (tensor parallelism over several GPUs), or a {@link CudaException} naming where it was looked for. */
    public static SymbolLookup nccl() {
        return load("libnccl");
    }

    private static SymbolLookup load(String stem) {
        List<Path> dirs = searchDirs(System.getenv(LIB_PATH_ENV), System.getenv("CUDA_HOME"));
        for (Path file : candidates(stem, dirs)) {
            try {
                return SymbolLookup.libraryLookup(file, Arena.global());
            } catch (IllegalArgumentException unloadable) {
                // a broken or foreign-architecture file: try the next one
            }
        }
        for (int major : SYSTEM_MAJORS) {
            try {
                return SymbolLookup.libraryLookup(stem + ".so." + major, Arena.global());
            } catch (IllegalArgumentException notFound) {
                // next version
            }
        }
        try {
            return SymbolLookup.libraryLookup(stem + ".so", Arena.global());
        } catch (IllegalArgumentException notFound) {
            throw new CudaException(stem + ".so.* not found (searched " + LIB_PATH_ENV + "=" + dirs
                    + " and the system library path)");
        }
    }

    /** Folders to search: those of {@code libPathEnv} (colon-separated), then the toolkit's, that exist. */
    public static List<Path> searchDirs(String libPathEnv, String cudaHome) {
        List<Path> dirs = new ArrayList<>();
        if (libPathEnv != null) {
            for (String part : libPathEnv.split(":")) {
                if (!part.isBlank()) {
                    dirs.add(Path.of(part.trim()));
                }
            }
        }
        if (cudaHome != null && !cudaHome.isBlank()) {
            dirs.add(Path.of(cudaHome, "lib64"));
        }
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        return dirs.stream().filter(Files::isDirectory).distinct().toList();
    }

    /**
     * Files in {@code dirs} named {@code <stem>.so.<version>} (e.g. {@code libnvrtc.so.13},
     * {@code libcublas.so.12.4.5}), folders in the given order, within a folder the highest version first. Siblings
     * with a longer stem ({@code libnvrtc-builtins.so.13.5}, {@code libcublasLt.so.13}) are not matches.
     */
    public static List<Path> candidates(String stem, List<Path> dirs) {
        Pattern pattern = Pattern.compile(Pattern.quote(stem) + "\\.so\\.(\\d+(?:\\.\\d+)*)");
        List<Path> found = new ArrayList<>();
        for (Path dir : dirs) {
            try (Stream<Path> files = Files.list(dir)) {
                files.filter(f -> pattern.matcher(f.getFileName().toString()).matches())
                        .sorted(Comparator.comparing((Path f) -> version(pattern, f), CudaLibraries::compareVersions).reversed())
                        .forEach(found::add);
            } catch (IOException unreadable) {
                // skip a folder we cannot list
            }
        }
        return found;
    }

    private static int[] version(Pattern pattern, Path file) {
        Matcher m = pattern.matcher(file.getFileName().toString());
        if (!m.matches()) {
            return new int[0];
        }
        String[] parts = m.group(1).split("\\.");
        int[] v = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            v[i] = Integer.parseInt(parts[i]);
        }
        return v;
    }

    private static int compareVersions(int[] a, int[] b) {
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (a[i] != b[i]) {
                return Integer.compare(a[i], b[i]);
            }
        }
        return Integer.compare(a.length, b.length);
    }
}
