package io.gemmaserving.runtime.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gemmaserving.runtime.engine.gguf.GgufFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dequantization against llama.cpp's own Python package ({@code gguf.quants.dequantize}), run live through
 * {@code hack/gguf-dequant.py} in $GEMMA_VENV: random blocks of every type gguf-py can dequantize, blocks
 * quantized by {@code gguf.quants.quantize} from Gaussian data, and real rows of the Gemma 3 270M file. Both
 * sides compute {@code d * sc * q - dm} in float32 in the same order, so the values must be equal bit for bit.
 * Q8_K has no dequantizer in gguf-py and is covered by KernelTest only.
 */
@Tag("unit")
class ReferenceDequantTest {

    /** Types gguf-py dequantizes, with random blocks. */
    static final List<TensorType> RANDOM = List.of(TensorType.F32, TensorType.F16, TensorType.BF16, TensorType.Q4_0,
            TensorType.Q4_1, TensorType.Q5_0, TensorType.Q5_1, TensorType.Q8_0, TensorType.Q2_K, TensorType.Q3_K,
            TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K, TensorType.IQ4_NL, TensorType.IQ3_S);
    /** Types gguf-py can quantize. */
    static final List<TensorType> QUANTIZED = List.of(TensorType.BF16, TensorType.Q4_0, TensorType.Q4_1,
            TensorType.Q5_0, TensorType.Q5_1, TensorType.Q8_0);
    /** Tensors of the real model, one per quant type it holds. */
    static final Map<String, TensorType> REAL = Map.of(
            "blk.0.attn_output.weight", TensorType.Q4_K,
            "blk.0.ffn_down.weight", TensorType.Q6_K,
            "blk.0.attn_v.weight", TensorType.Q8_0,
            "blk.0.attn_q.weight", TensorType.Q5_0,
            "blk.0.attn_norm.weight", TensorType.F32);

    @TempDir
    static Path dir;
    static Path python;
    static Path script;

    @BeforeAll
    static void findPython() {
        String venv = System.getenv("GEMMA_VENV");
        python = venv == null ? null : Path.of(venv, "bin", "python");
        script = findUp("hack/gguf-dequant.py");
    }

    static Path findUp(String relative) {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve(relative))) {
                return p.resolve(relative);
            }
        }
        return null;
    }

    static void runPython(List<String> jobs) throws IOException, InterruptedException {
        assumeTrue(python != null && Files.isExecutable(python), "GEMMA_VENV/bin/python absent (hack/setup.d/10-python.sh makes it)");
        assumeTrue(script != null, "hack/gguf-dequant.py not found above the working directory");
        Path jobFile = dir.resolve("jobs-" + System.nanoTime() + ".txt");
        Files.write(jobFile, jobs);
        Process p = new ProcessBuilder(python.toString(), script.toString(), jobFile.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("gguf-dequant.py failed: " + out);
        }
    }

    static float[] readFloats(Path p) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    static void assertRowsEqual(WeightTensor w, float[] expected, String what) {
        int cols = w.cols();
        assertEquals(expected.length, w.rows() * cols, what + ": element count");
        float[] row = new float[cols];
        for (int r = 0; r < w.rows(); r++) {
            w.dequantizeRow(r, row, 0);
            for (int i = 0; i < cols; i++) {
                float e = expected[r * cols + i];
                if (Float.floatToIntBits(e) != Float.floatToIntBits(row[i])) {
                    assertEquals(e, row[i], 0f, what + ": row " + r + " col " + i);
                }
            }
        }
    }

    @Test
    void randomBlocksMatchGgufPy() throws Exception {
        Random rnd = new Random(7);
        List<String> jobs = new ArrayList<>();
        List<WeightTensor> tensors = new ArrayList<>();
        for (TensorType t : RANDOM) {
            int rows = 3, cols = TestData.cols(t);
            byte[] bytes = TestData.randomBytes(t, rows, cols, rnd);
            Path in = dir.resolve(t + ".raw");
            Files.write(in, bytes);
            jobs.add("raw " + t + " " + in + " " + dir.resolve(t + ".f32"));
            tensors.add(Tensors.of(t.toString(), t, rows, cols, TestData.segment(bytes)));
        }
        runPython(jobs);
        for (WeightTensor w : tensors) {
            assertRowsEqual(w, readFloats(dir.resolve(w.type() + ".f32")), "random " + w.type());
        }
    }

    @Test
    void blocksQuantizedByGgufPyMatch() throws Exception {
        List<String> jobs = new ArrayList<>();
        for (TensorType t : QUANTIZED) {
            jobs.add("quant " + t + " 1024 " + t.ordinal() + " " + dir.resolve(t + ".q") + " " + dir.resolve(t + ".qf32"));
        }
        runPython(jobs);
        for (TensorType t : QUANTIZED) {
            byte[] bytes = Files.readAllBytes(dir.resolve(t + ".q"));
            WeightTensor w = Tensors.of(t.toString(), t, 4, 256, TestData.segment(bytes));
            assertRowsEqual(w, readFloats(dir.resolve(t + ".qf32")), "quantized " + t);
        }
    }

    /**
     * Real rows: the first rows of one tensor per type, read through GgufFile, dequantized by gguf-py from the
     * same bytes. (gguf-py's own GGUFReader takes about 10 s on this file, so the bytes go to Python raw; the
     * tensor offsets are checked in GgufFileTest.)
     */
    @Test
    void realGemma3Rows() throws Exception {
        String env = System.getenv("GEMMA_270M_GGUF");
        assumeTrue(env != null && Files.isRegularFile(Path.of(env)), "GEMMA_270M_GGUF absent (hack/setup.d/10-python.sh makes it)");
        int rows = 8;
        try (GgufFile f = GgufFile.open(Path.of(env))) {
            List<String> jobs = new ArrayList<>();
            for (Map.Entry<String, TensorType> e : REAL.entrySet()) {
                WeightTensor w = f.tensor(e.getKey());
                assertEquals(e.getValue(), w.type(), e.getKey());
                long n = Math.min(rows, w.rows());
                byte[] raw = ((AbstractTensor) w).data().asSlice(0, n * w.type().bytesFor(w.cols()))
                        .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                Files.write(dir.resolve(e.getKey() + ".raw"), raw);
                jobs.add("raw " + w.type() + " " + dir.resolve(e.getKey() + ".raw") + " " + dir.resolve(e.getKey() + ".f32"));
            }
            runPython(jobs);
            for (Map.Entry<String, TensorType> e : REAL.entrySet()) {
                WeightTensor w = f.tensor(e.getKey());
                float[] expected = readFloats(dir.resolve(e.getKey() + ".f32"));
                int n = expected.length / w.cols();
                float[] row = new float[w.cols()];
                for (int r = 0; r < n; r++) {
                    w.dequantizeRow(r, row, 0);
                    for (int i = 0; i < row.length; i++) {
                        float x = expected[r * row.length + i];
                        if (Float.floatToIntBits(x) != Float.floatToIntBits(row[i])) {
                            assertEquals(x, row[i], 0f, e.getKey() + " row " + r + " col " + i);
                        }
                    }
                }
            }
        }
    }
}
