package io.gemmaserving.runtime.engine.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Writes small GGUF v3 files for tests, following the layout GgufFile documents (and ggml's gguf.cpp writes). */
final class TestGgufWriter {

    record Tensor(String name, long[] dims, int typeId, byte[] data) {
    }

    private final ByteArrayOutputStream kv = new ByteArrayOutputStream();
    private int kvCount;
    private final List<Tensor> tensors = new ArrayList<>();
    int alignment = 32;
    int magic = 0x46554747;
    int version = 3;

    private static byte[] le(int bytes, long v) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
        byte[] r = new byte[bytes];
        System.arraycopy(b.array(), 0, r, 0, bytes);
        return r;
    }

    private static void put(ByteArrayOutputStream out, int bytes, long v) {
        out.writeBytes(le(bytes, v));
    }

    private static void putString(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        put(out, 8, b.length);
        out.writeBytes(b);
    }

    /** A scalar: type 0..12 as GGUF numbers them; value a Number, Boolean or String. */
    TestGgufWriter kv(String key, int type, Object value) {
        putString(kv, key);
        put(kv, 4, type);
        putValue(type, value);
        kvCount++;
        return this;
    }

    TestGgufWriter kvArray(String key, int elemType, Object[] values) {
        putString(kv, key);
        put(kv, 4, 9);
        put(kv, 4, elemType);
        put(kv, 8, values.length);
        for (Object v : values) {
            putValue(elemType, v);
        }
        kvCount++;
        return this;
    }

    private void putValue(int type, Object value) {
        switch (type) {
            case 0, 1, 7 -> put(kv, 1, value instanceof Boolean b ? (b ? 1 : 0) : ((Number) value).longValue());
            case 2, 3 -> put(kv, 2, ((Number) value).longValue());
            case 4, 5 -> put(kv, 4, ((Number) value).longValue());
            case 6 -> put(kv, 4, Float.floatToRawIntBits(((Number) value).floatValue()));
            case 8 -> putString(kv, (String) value);
            case 10, 11 -> put(kv, 8, ((Number) value).longValue());
            case 12 -> put(kv, 8, Double.doubleToRawLongBits(((Number) value).doubleValue()));
            default -> throw new IllegalArgumentException("type " + type);
        }
    }

    TestGgufWriter tensor(String name, int typeId, byte[] data, long... dims) {
        tensors.add(new Tensor(name, dims, typeId, data));
        return this;
    }

    byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        put(out, 4, magic);
        put(out, 4, version);
        put(out, 8, tensors.size());
        put(out, 8, kvCount);
        out.writeBytes(kv.toByteArray());
        long offset = 0;
        List<Long> offsets = new ArrayList<>();
        for (Tensor t : tensors) {
            putString(out, t.name);
            put(out, 4, t.dims.length);
            for (long d : t.dims) {
                put(out, 8, d);
            }
            put(out, 4, t.typeId);
            put(out, 8, offset);
            offsets.add(offset);
            offset += (t.data.length + alignment - 1) / alignment * alignment;
        }
        while (out.size() % alignment != 0) {
            out.write(0);
        }
        for (Tensor t : tensors) {
            out.writeBytes(t.data);
            while (out.size() % alignment != 0) {
                out.write(0);
            }
        }
        return out.toByteArray();
    }
}
