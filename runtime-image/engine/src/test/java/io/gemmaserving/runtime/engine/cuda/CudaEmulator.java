package io.gemmaserving.runtime.engine.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Test support: the engine's CUDA kernel sources compiled for the host with g++ and the CUDA-emulation header
 * {@code src/test/resources/cuda-emu/cuda_emu.h}, loaded through FFM, launched as {@code cuLaunchKernel} would:
 * grid, block, and a {@code void**} parameter array packed by the product's {@link KernelArgs}, either directly or
 * through the product's typed launches ({@link #kernels()}). "Device" memory is host memory from an {@link Arena};
 * pointers are its addresses.
 *
 * <p>Each source file becomes one shared library (a harness that includes the header, the {@code .cu} file, and one
 * exported launcher per kernel that {@link KernelSources#ENTRIES} lists). Built once per JVM, into a temporary
 * folder that is deleted once the libraries are loaded. {@link #get()} returns null, with {@link #unavailable()}
 * saying why, when g++ is absent or the build fails for want of a tool (a compile error in a kernel is a failure).
 */
final class CudaEmulator {

    /** A launch shape: x, y, z. */
    record Dim(int x, int y, int z) {
        static Dim of(int x) {
            return new Dim(x, 1, 1);
        }

        static Dim of(int x, int y) {
            return new Dim(x, y, 1);
        }
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final FunctionDescriptor LAUNCH = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS,
            ValueLayout.JAVA_INT);
    private static final FunctionDescriptor SIGNATURE = FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS, ValueLayout.JAVA_INT);
    /** g++ flags: no FMA contraction and no fast math, so host arithmetic is the sequence the source writes. */
    private static final List<String> FLAGS = List.of("-std=c++17", "-O1", "-fPIC", "-shared", "-fvisibility=hidden",
            "-Wl,-Bsymbolic", "-ffp-contract=off", "-fno-fast-math", "-Wno-unknown-pragmas");

    private static CudaEmulator instance;
    private static String unavailable;
    private static AssertionError buildFailure;

    private final Map<String, MethodHandle> launchers = new HashMap<>();
    private final Map<String, String> signatures = new HashMap<>();
    private long launches;

    private CudaEmulator() {
    }

    /** The emulator with every kernel of {@link KernelSources#ENTRIES} and the self-test kernels built. */
    static synchronized CudaEmulator get() {
        if (buildFailure != null) {
            throw new AssertionError("the emulated kernels did not build (see the first failure): "
                    + buildFailure.getMessage().lines().findFirst().orElse(""));
        }
        if (instance == null && unavailable == null) {
            Map<String, List<String>> sources = new LinkedHashMap<>(KernelSources.ENTRIES);
            sources.put("emu_selftest.cu", SELFTEST_ENTRIES);
            try {
                instance = build(sources);
            } catch (AssertionError e) {
                buildFailure = e; // a kernel that does not compile fails every test, but is compiled once
                throw e;
            }
        }
        return instance;
    }

    /** Why {@link #get()} returned null. */
    static synchronized String unavailable() {
        return unavailable;
    }

    /** Kernels of the emulator's own test source (src/test/resources/cuda-emu/emu_selftest.cu). */
    static final List<String> SELFTEST_ENTRIES = List.of("shuffles", "block_sum", "sync_after_return",
            "diverged_barrier", "read_shared_unwritten", "missing_barrier");

    private static CudaEmulator build(Map<String, List<String>> sources) {
        String gpp = findOnPath("g++");
        if (gpp == null) {
            unavailable = "g++ not found on PATH (Debian package g++; hack/setup.d/45-gxx.sh installs it)";
            return null;
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("cuda-emu");
            Files.writeString(dir.resolve("cuda_emu.h"), resource("/cuda-emu/cuda_emu.h"));
            for (String h : KernelSources.HEADERS) {
                Files.writeString(dir.resolve(h), KernelSources.read(h));
            }
            CudaEmulator emu = new CudaEmulator();
            List<Process> running = new ArrayList<>();
            List<String> files = new ArrayList<>(sources.keySet());
            for (String file : files) {
                String text = file.startsWith("emu_") ? resource("/cuda-emu/" + file) : KernelSources.read(file);
                Files.writeString(dir.resolve(file), text);
                StringBuilder harness = new StringBuilder("#include \"cuda_emu.h\"\n#include \"" + file + "\"\n");
                for (String k : sources.get(file)) {
                    harness.append("EMU_EXPORT(").append(k).append(")\n");
                }
                Files.writeString(dir.resolve(file + ".cpp"), harness);
                List<String> cmd = new ArrayList<>(List.of(gpp));
                cmd.addAll(FLAGS);
                cmd.addAll(List.of("-o", lib(file), file + ".cpp"));
                running.add(new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start());
                if (running.size() == 2) { // two compilers at a time
                    waitFor(running, files, running.size());
                }
            }
            waitFor(running, files, running.size());
            Arena arena = Arena.ofAuto();
            for (String file : files) {
                SymbolLookup lib = SymbolLookup.libraryLookup(dir.resolve(lib(file)), Arena.global());
                for (String k : sources.get(file)) {
                    emu.launchers.put(k, LINKER.downcallHandle(lib.findOrThrow("emu_launch_" + k), LAUNCH));
                    MethodHandle sig = LINKER.downcallHandle(lib.findOrThrow("emu_signature_" + k), SIGNATURE);
                    MemorySegment buf = arena.allocate(256);
                    int n = (int) sig.invokeExact(buf, 256);
                    emu.signatures.put(k, buf.getString(0).substring(0, n));
                }
            }
            return emu;
        } catch (IOException e) {
            unavailable = "cannot build the emulated kernels: " + e.getMessage();
            return null;
        } catch (AssertionError e) {
            throw e;
        } catch (Throwable e) {
            throw new AssertionError("loading the emulated kernels failed", e);
        } finally {
            deleteQuietly(dir);
        }
    }

    // Waits for the first n compiles of `running`; a compile error in a kernel or the header fails the test.
    private static void waitFor(List<Process> running, List<String> files, int n) throws IOException {
        int offset = files.size() - running.size();
        try {
            for (int i = 0; i < n; i++) {
                Process p = running.get(i);
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    fail("g++ could not build " + files.get(offset + i) + " for the CUDA emulation:\n" + out);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        running.subList(0, n).clear();
    }

    private static String lib(String file) {
        return "lib" + file.replace('.', '_') + ".so";
    }

    /** The kernel's parameters, one letter each: i int, l long long, f float, p pointer. */
    String signature(String kernel) {
        String s = signatures.get(kernel);
        if (s == null) {
            throw new IllegalArgumentException("no emulated kernel " + kernel);
        }
        return s;
    }

    /**
     * The product's typed launches ({@link Kernels}: its grid and block shapes and argument lists) on this
     * emulation. The stream is ignored: every launch runs to the end before the call returns.
     */
    Kernels kernels() {
        return new Kernels((kernel, gx, gy, block, stream, args) -> launch(kernel, Dim.of(gx, gy), Dim.of(block), args));
    }

    void launch(String kernel, Dim grid, Dim block, Args args) {
        launch(kernel, grid, block, args.args);
    }

    /**
     * Runs {@code kernel<<<grid, block>>>(args)} to the end. Fails the test when the arguments do not match the
     * kernel's parameter list or the emulation reports a fault (a barrier or warp operation some threads miss).
     */
    void launch(String kernel, Dim grid, Dim block, KernelArgs args) {
        assertEquals(signature(kernel), args.kinds(), kernel + ": arguments do not match the parameters");
        String error = tryLaunch(kernel, grid, block, args);
        if (!error.isEmpty()) {
            fail(kernel + ": " + error);
        }
    }

    /** Like {@link #launch} but returns the fault ("" when none) instead of failing: for the emulator's own tests. */
    String tryLaunch(String kernel, Dim grid, Dim block, Args args) {
        return tryLaunch(kernel, grid, block, args.args);
    }

    private String tryLaunch(String kernel, Dim grid, Dim block, KernelArgs args) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment g = arena.allocateFrom(ValueLayout.JAVA_INT, grid.x, grid.y, grid.z);
            MemorySegment b = arena.allocateFrom(ValueLayout.JAVA_INT, block.x, block.y, block.z);
            MemorySegment err = arena.allocate(4096);
            MemorySegment params = args.build(arena);
            int rc = (int) launchers.get(kernel).invokeExact(g, b, 0L, params, ++launches * 0x9E3779B97F4A7C15L,
                    err, 4096);
            return rc == 0 ? "" : err.getString(0);
        } catch (Throwable e) {
            throw new AssertionError("launch of " + kernel + " failed", e);
        }
    }

    /** Kernel arguments for a direct launch: the product's {@link KernelArgs}, taking buffers for pointers. */
    static final class Args {
        final KernelArgs args = new KernelArgs();

        Args ptr(MemorySegment deviceBuffer) {
            args.ptr(deviceBuffer.address());
            return this;
        }

        Args i32(int v) {
            args.i32(v);
            return this;
        }

        Args i64(long v) {
            args.i64(v);
            return this;
        }

        Args f32(float v) {
            args.f32(v);
            return this;
        }
    }

    /** "Device" buffers: host memory aligned as cudaMalloc aligns. */
    static MemorySegment floats(Arena arena, float[] v) {
        MemorySegment s = arena.allocate(Math.max(4L, 4L * v.length), 256);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_FLOAT, 0, v.length);
        return s;
    }

    /** n floats, all NaN, so that an element the kernel does not write shows. */
    static MemorySegment nans(Arena arena, int n) {
        MemorySegment s = arena.allocate(Math.max(4L, 4L * n), 256);
        s.fill((byte) 0xff);
        return s;
    }

    /** A weight in "device" memory, as the engine's {@link DeviceWeights} describes one. */
    static DeviceTensor tensor(Arena arena, byte[] data, TensorType type, long rows, int cols) {
        return new DeviceTensor("test", bytes(arena, data).address(), type, rows, cols);
    }

    static MemorySegment ints(Arena arena, int... v) {
        MemorySegment s = arena.allocate(Math.max(4L, 4L * v.length), 256);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_INT, 0, v.length);
        return s;
    }

    static MemorySegment bytes(Arena arena, byte[] v) {
        MemorySegment s = arena.allocate(Math.max(1L, v.length), 256);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_BYTE, 0, v.length);
        return s;
    }

    static float[] toFloats(MemorySegment s, int n) {
        return s.asSlice(0, 4L * n).toArray(ValueLayout.JAVA_FLOAT);
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = CudaEmulator.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new UncheckedIOException(new IOException("test resource " + name + " is missing"));
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String findOnPath(String exe) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String d : path.split(":")) {
            Path p = Path.of(d.isEmpty() ? "." : d, exe);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder left behind is harmless
        }
    }
}
