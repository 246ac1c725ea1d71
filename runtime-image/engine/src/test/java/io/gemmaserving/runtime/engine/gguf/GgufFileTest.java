package io.gemmaserving.runtime.engine.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class GgufFileTest {

    @TempDir
    Path dir;

    private static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    /** One Q8_0 block: d = 0.5 (fp16 0x3800), qs = i - 16. */
    private static byte[] q8Block() {
        byte[] b = new byte[34];
        b[0] = 0x00;
        b[1] = 0x38;
        for (int i = 0; i < 32; i++) {
            b[2 + i] = (byte) (i - 16);
        }
        return b;
    }

    private static TestGgufWriter sample() {
        return new TestGgufWriter()
                .kv("general.architecture", 8, "gemma3")
                .kv("u8", 0, 200).kv("i8", 1, -5).kv("u16", 2, 60000).kv("i16", 3, -300)
                .kv("u32", 4, 0xFFFFFFF0L).kv("i32", 5, -70000).kv("f32", 6, 1.5f).kv("bool", 7, true)
                .kv("u64", 10, 1L << 40).kv("i64", 11, -(1L << 40)).kv("f64", 12, 2.25)
                .kv("gemma3.block_count", 4, 18)
                .kvArray("tokenizer.ggml.tokens", 8, new Object[] {"<pad>", "<eos>", "héllo ▁world"})
                .kvArray("tokenizer.ggml.scores", 6, new Object[] {0f, -1.5f, 3.25f})
                .kvArray("tokenizer.ggml.token_type", 5, new Object[] {3, 3, 1})
                .tensor("norm.weight", 0, f32(1, 2, 3), 3)
                .tensor("blk.0.w", 8, concat(q8Block(), q8Block()), 32, 2);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void readsEveryMetadataTypeAndTensors() throws IOException {
        try (GgufFile f = GgufFile.open(write("ok.gguf", sample().bytes()))) {
            assertEquals(3, f.version());
            assertEquals(32, f.alignment());
            assertEquals(0, f.dataOffset() % 32);
            assertEquals("gemma3", f.architecture());
            assertEquals(200, f.getInt("u8"));
            assertEquals(-5, f.getInt("i8"));
            assertEquals(60000, f.getInt("u16"));
            assertEquals(-300, f.getInt("i16"));
            assertEquals(0xFFFFFFF0L, f.getLong("u32"));
            assertEquals(-70000, f.getInt("i32"));
            assertEquals(1.5f, f.getFloat("f32"));
            assertTrue(f.getBoolean("bool"));
            assertEquals(1L << 40, f.getLong("u64"));
            assertEquals(-(1L << 40), f.getLong("i64"));
            assertEquals(2.25f, f.getFloat("f64"));
            assertEquals(18, f.getInt("gemma3.block_count"));
            assertEquals(7, f.getInt("missing", 7));
            assertArrayEquals(new String[] {"<pad>", "<eos>", "héllo ▁world"}, f.getStringArray("tokenizer.ggml.tokens"));
            assertArrayEquals(new float[] {0f, -1.5f, 3.25f}, f.getFloatArray("tokenizer.ggml.scores"));
            assertArrayEquals(new int[] {3, 3, 1}, f.getIntArray("tokenizer.ggml.token_type"));

            assertEquals(2, f.tensorInfos().size());
            GgufTensorInfo info = f.tensorInfos().get("blk.0.w");
            assertArrayEquals(new long[] {32, 2}, info.dims());
            assertEquals(TensorType.Q8_0, info.type());
            assertEquals(68, info.bytes());

            WeightTensor norm = f.tensor("norm.weight");
            assertEquals(1, norm.rows());
            assertEquals(3, norm.cols());
            float[] row = new float[3];
            norm.dequantizeRow(0, row, 0);
            assertArrayEquals(new float[] {1, 2, 3}, row);

            WeightTensor w = f.tensor("blk.0.w");
            assertEquals(2, w.rows());
            assertEquals(32, w.cols());
            float[] q = new float[32];
            w.dequantizeRow(1, q, 0);
            for (int i = 0; i < 32; i++) {
                assertEquals(0.5f * (i - 16), q[i]);
            }
            assertFalse(f.hasTensor("nope"));
            GgufFormatException e = assertThrows(GgufFormatException.class, () -> f.tensor("nope"));
            assertEquals("ok.gguf: no tensor named nope", e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.getInt("general.architecture"));
            assertEquals("ok.gguf: metadata key general.architecture holds a String, expected an integer", e.getMessage());
        }
    }

    @Test
    void honoursGeneralAlignment() throws IOException {
        TestGgufWriter w = sample().kv("general.alignment", 4, 64);
        w.alignment = 64;
        try (GgufFile f = GgufFile.open(write("a64.gguf", w.bytes()))) {
            assertEquals(64, f.alignment());
            assertEquals(0, f.dataOffset() % 64);
            float[] row = new float[3];
            f.tensor("norm.weight").dequantizeRow(0, row, 0);
            assertArrayEquals(new float[] {1, 2, 3}, row);
        }
    }

    private String error(String name, byte[] bytes) throws IOException {
        Path p = write(name, bytes);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(p).close());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void badMagic() throws IOException {
        TestGgufWriter w = sample();
        w.magic = 0x4C4C4747; // "GGLL"
        assertEquals("bad.gguf: not a GGUF file (bad magic; expected \"GGUF\")", error("bad.gguf", w.bytes()));
        assertEquals("empty.gguf: not a GGUF file (bad magic; expected \"GGUF\")", error("empty.gguf", new byte[0]));
    }

    @Test
    void unsupportedVersion() throws IOException {
        TestGgufWriter w = sample();
        w.version = 1;
        assertEquals("v1.gguf: unsupported GGUF version 1 (only 2 and 3 are read)", error("v1.gguf", w.bytes()));
    }

    @Test
    void readsVersion2() throws IOException {
        TestGgufWriter w = sample();
        w.version = 2;
        try (GgufFile f = GgufFile.open(write("v2.gguf", w.bytes()))) {
            assertEquals(2, f.version());
            assertEquals(18, f.getInt("gemma3.block_count"));
            assertEquals(2, f.tensorInfos().size());
        }
    }

    @Test
    void unknownMetadataValueType() throws IOException {
        TestGgufWriter w = new TestGgufWriter().kv("a", 4, 1);
        byte[] b = w.bytes();
        // the value type of key "a" follows magic, version, counts (24 bytes), key length (8) and "a" (1)
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(24 + 8 + 1, 13);
        assertEquals("t.gguf: metadata key a has unknown value type 13", error("t.gguf", b));
    }

    @Test
    void truncatedTensorData() throws IOException {
        byte[] full = sample().bytes();
        byte[] cut = Arrays.copyOf(full, full.length - 40);
        String msg = error("model.gguf", cut);
        assertTrue(msg.matches("model\\.gguf: truncated: tensor blk\\.0\\.w data needs 68 bytes past offset \\d+, file has "
                + cut.length), msg);
    }

    @Test
    void truncatedHeader() throws IOException {
        byte[] full = sample().bytes();
        String msg = error("short.gguf", Arrays.copyOf(full, 60));
        assertTrue(msg.startsWith("short.gguf: truncated: "), msg);
        assertTrue(msg.endsWith("file has 60"), msg);
    }

    @Test
    void unknownTensorType() throws IOException {
        TestGgufWriter w = new TestGgufWriter().tensor("blk.3.ffn_down.weight", 99, new byte[64], 16);
        assertEquals("model.gguf: tensor blk.3.ffn_down.weight has unknown type id 99", error("model.gguf", w.bytes()));
        TestGgufWriter iq2 = new TestGgufWriter().tensor("t", 16, new byte[66], 256);
        assertEquals("m.gguf: tensor t has unknown type id 16 (IQ2_XXS, not supported by this engine)",
                error("m.gguf", iq2.bytes()));
    }

    @Test
    void oversizedCounts() throws IOException {
        byte[] b = sample().bytes();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(8, Long.MAX_VALUE); // tensor count
        assertEquals("c.gguf: tensor count 9223372036854775807 is out of range (file has " + b.length + " bytes)",
                error("c.gguf", b));
        byte[] n = sample().bytes();
        ByteBuffer.wrap(n).order(ByteOrder.LITTLE_ENDIAN).putLong(16, -1L); // metadata count, negative as int64
        assertEquals("n.gguf: metadata count 18446744073709551615 is out of range (file has " + n.length + " bytes)",
                error("n.gguf", n));
        byte[] m = sample().bytes();
        ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).putLong(8, 1L << 20); // plausible, but the file is small
        assertEquals("m.gguf: truncated: tensor count 1048576 needs at least 29360128 bytes past offset 16, file has "
                + m.length, error("m.gguf", m));
        // a string length that runs past the end of the file
        byte[] s = sample().bytes();
        ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN).putLong(24, 1L << 50); // length of the first key
        assertEquals("s.gguf: truncated: metadata key #0 claims 1125899906842624 bytes at offset 32, file has " + s.length,
                error("s.gguf", s));
    }

    @Test
    void elementCountOverflow() throws IOException {
        TestGgufWriter w = new TestGgufWriter().tensor("huge", 0, new byte[4], 2_000_000_000L, 2_000_000_000L, 2_000_000_000L);
        assertEquals("o.gguf: tensor huge has [2000000000, 2000000000, 2000000000] elements, more than fit a file",
                error("o.gguf", w.bytes()));
    }

    @Test
    void rowsNotWholeBlocks() throws IOException {
        TestGgufWriter w = new TestGgufWriter().tensor("w", 8, new byte[34], 31, 1);
        assertEquals("r.gguf: tensor w has rows of 31 elements, not a multiple of the Q8_0 block size 32",
                error("r.gguf", w.bytes()));
    }

    /** The real Gemma 3 270M GGUF (Q4_K_M, the pretrained base model), when setup has assembled it. */
    @Test
    void realGemma3_270m() throws IOException {
        String env = System.getenv("GEMMA_270M_GGUF");
        assumeTrue(env != null && Files.isRegularFile(Path.of(env)), "GEMMA_270M_GGUF not set or file absent (hack/setup.d/10-python.sh makes it)");
        try (GgufFile f = GgufFile.open(Path.of(env))) {
            assertEquals("gemma3", f.architecture());
            assertEquals(236, f.tensorInfos().size());
            assertEquals(18, f.getInt("gemma3.block_count"));
            assertEquals(640, f.getInt("gemma3.embedding_length"));
            assertEquals(262144, f.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals(262144, f.getFloatArray("tokenizer.ggml.scores").length);
            assertEquals(262144, f.getIntArray("tokenizer.ggml.token_type").length);
            assertEquals(2, f.getInt("tokenizer.ggml.bos_token_id"));
            assertEquals(Set.of(TensorType.F32, TensorType.Q5_0, TensorType.Q4_K, TensorType.Q8_0, TensorType.Q6_K),
                    f.typeCounts().keySet());
            GgufTensorInfo embd = f.tensorInfos().get("token_embd.weight");
            assertArrayEquals(new long[] {640, 262144}, embd.dims());
            WeightTensor t = f.tensor("token_embd.weight");
            assertEquals(262144, t.rows());
            assertEquals(640, t.cols());
            // every tensor maps; norms are 1-D (1 x n) F32
            for (Map.Entry<String, GgufTensorInfo> e : f.tensorInfos().entrySet()) {
                WeightTensor w = f.tensor(e.getKey());
                assertEquals(e.getValue().cols(), w.cols());
            }
            // tensor data lies inside the file and ends within one alignment of its end
            long end = f.tensorInfos().values().stream().mapToLong(i -> i.fileOffset() + i.bytes()).max().orElseThrow();
            long size = Files.size(Path.of(env));
            assertTrue(end <= size && size - end < f.alignment(), "last tensor ends at " + end + ", file has " + size);
            WeightTensor norm = f.tensor("output_norm.weight");
            assertEquals(1, norm.rows());
            assertEquals(640, norm.cols());
        }
    }
}
