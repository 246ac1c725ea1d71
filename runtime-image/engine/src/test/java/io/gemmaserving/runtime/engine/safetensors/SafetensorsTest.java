package io.gemmaserving.runtime.engine.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class SafetensorsTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    record T(String dtype, long[] shape, byte[] data) {
    }

    /** Writes a file as the safetensors spec lays it out: u64 header length, JSON, data in header order. */
    static byte[] file(Map<String, T> tensors, Map<String, String> meta) throws IOException {
        ObjectNode h = JSON.createObjectNode();
        if (meta != null) {
            ObjectNode m = h.putObject("__metadata__");
            meta.forEach(m::put);
        }
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Map.Entry<String, T> e : tensors.entrySet()) {
            ObjectNode t = h.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype);
            ArrayNode s = t.putArray("shape");
            for (long d : e.getValue().shape) {
                s.add(d);
            }
            ArrayNode o = t.putArray("data_offsets");
            o.add(data.size());
            data.writeBytes(e.getValue().data);
            o.add(data.size());
        }
        byte[] header = JSON.writeValueAsString(h).getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
        out.writeBytes(header);
        out.writeBytes(data.toByteArray());
        return out.toByteArray();
    }

    static byte[] bf16(float... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putShort((short) (Float.floatToRawIntBits(f) >>> 16));
        }
        return b.array();
    }

    static byte[] f32(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    static byte[] f16(float... v) {
        ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putShort(Float.floatToFloat16(f));
        }
        return b.array();
    }

    static Map<String, T> sample() {
        Map<String, T> m = new LinkedHashMap<>();
        m.put("model.layers.0.self_attn.q_proj.weight", new T("BF16", new long[] {2, 3}, bf16(1, 2, 3, -4, 0.5f, 6)));
        m.put("model.norm.weight", new T("F32", new long[] {4}, f32(1, 2, 3, 4)));
        m.put("lm.f16", new T("F16", new long[] {1, 2}, f16(0.25f, -8)));
        m.put("ids", new T("I64", new long[] {2}, new byte[16]));
        return m;
    }

    static float[] row(WeightTensor w, int r) {
        float[] out = new float[w.cols()];
        w.dequantizeRow(r, out, 0);
        return out;
    }

    @Test
    void readsShapesDtypesAndMetadata() throws IOException {
        Path p = dir.resolve("model.safetensors");
        Files.write(p, file(sample(), Map.of("format", "pt")));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals("pt", f.metadata().get("format"));
            WeightTensor q = f.tensor("model.layers.0.self_attn.q_proj.weight");
            assertEquals(TensorType.BF16, q.type());
            assertEquals(2, q.rows());
            assertEquals(3, q.cols());
            assertArrayEquals(new float[] {-4, 0.5f, 6}, row(q, 1));
            assertEquals(-4 * 1 + 0.5f * 2 + 6 * 3, q.dotVector(1, new float[] {1, 2, 3}, 0));
            WeightTensor n = f.tensor("model.norm.weight");
            assertEquals(1, n.rows());
            assertArrayEquals(new float[] {1, 2, 3, 4}, row(n, 0));
            assertArrayEquals(new float[] {0.25f, -8}, row(f.tensor("lm.f16"), 0));
            SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> f.tensor("ids"));
            assertEquals("model.safetensors: tensor ids has dtype I64 (BF16, F16 and F32 are read)", e.getMessage());
        }
    }

    private String error(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsFile.open(p).close());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void brokenFiles() throws IOException {
        byte[] ok = file(sample(), null);
        assertEquals("t.safetensors: truncated: tensor ids data needs 16 bytes past offset " + (ok.length - 16)
                + ", file has " + (ok.length - 1), error("t.safetensors", Arrays.copyOf(ok, ok.length - 1)));
        assertEquals("h.safetensors: truncated: header needs " + headerLength(ok) + " bytes past offset 8, file has 40",
                error("h.safetensors", Arrays.copyOf(ok, 40)));
        assertEquals("s.safetensors: truncated: 3 bytes, too short for the 8-byte header length", error("s.safetensors", new byte[3]));
        byte[] notJson = ok.clone();
        notJson[8] = 'x';
        String msg = error("j.safetensors", notJson);
        assertTrue(msg.startsWith("j.safetensors: header is not valid JSON: Unrecognized token 'x"), msg);
        byte[] huge = ok.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -5);
        assertEquals("x.safetensors: header length 18446744073709551611 is out of range (not a safetensors file?)",
                error("x.safetensors", huge));
        Map<String, T> bad = new LinkedHashMap<>();
        bad.put("w", new T("BF16", new long[] {2, 3}, new byte[10]));
        assertEquals("w.safetensors: tensor w of shape [2,3] BF16 needs 12 bytes, data_offsets give 10",
                error("w.safetensors", file(bad, null)));
    }

    private static long headerLength(byte[] f) {
        return ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    @Test
    void shardedDirectoryWithIndex() throws IOException {
        Map<String, T> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        a.put("x.weight", new T("BF16", new long[] {1, 2}, bf16(1, 2)));
        b.put("y.weight", new T("F32", new long[] {2, 1}, f32(3, 4)));
        Files.write(dir.resolve("model-00001-of-00002.safetensors"), file(a, null));
        Files.write(dir.resolve("model-00002-of-00002.safetensors"), file(b, null));
        Files.writeString(dir.resolve(SafetensorsDirectory.INDEX), "{\"metadata\": {\"total_size\": 12}, \"weight_map\": {"
                + "\"x.weight\": \"model-00001-of-00002.safetensors\", \"y.weight\": \"model-00002-of-00002.safetensors\"}}");
        try (SafetensorsDirectory d = SafetensorsDirectory.open(dir)) {
            assertEquals(2, d.files().size());
            assertArrayEquals(new float[] {1, 2}, row(d.tensor("x.weight"), 0));
            assertArrayEquals(new float[] {4}, row(d.tensor("y.weight"), 1));
            SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> d.tensor("z"));
            assertEquals(dir.getFileName() + ": no tensor named z", e.getMessage());
        }
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsDirectory.open(dir));
        assertEquals(dir.getFileName() + ": model.safetensors.index.json names model-00002-of-00002.safetensors, which is missing",
                e.getMessage());
    }

    @Test
    void unshardedAndEmptyDirectories() throws IOException {
        Path one = Files.createDirectory(dir.resolve("one"));
        Files.write(one.resolve("model.safetensors"), file(sample(), null));
        try (SafetensorsDirectory d = SafetensorsDirectory.open(one)) {
            assertEquals(4, d.tensorNames().size());
            assertEquals(3, d.tensor("model.layers.0.self_attn.q_proj.weight").cols());
        }
        Path empty = Files.createDirectory(dir.resolve("empty"));
        SafetensorsFormatException e = assertThrows(SafetensorsFormatException.class, () -> SafetensorsDirectory.open(empty));
        assertEquals("empty: no *.safetensors files", e.getMessage());
    }
}
