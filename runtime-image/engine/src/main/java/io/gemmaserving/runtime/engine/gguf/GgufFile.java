package io.gemmaserving.runtime.engine.gguf;

import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.Tensors;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped: the header and metadata are parsed into Java objects, the tensor
 * data stays in the mapping and {@link #tensor(String)} returns views over it (no copy onto the heap).
 *
 * <p>Layout (little-endian): magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata count, the
 * metadata key/value pairs, the tensor infos (name, n_dims, ne[n_dims], type, offset), padding to
 * {@code general.alignment} (default 32), then the tensor data.
 *
 * <p>Metadata values become: 8/16-bit integers and int32 {@link Integer}; uint32, int64, uint64 {@link Long};
 * float32 {@link Float}; float64 {@link Double}; bool {@link Boolean}; string {@link String}; arrays
 * {@code int[]} (8/16/32-bit signed and unsigned up to uint16, int32), {@code long[]} (uint32, 64-bit),
 * {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]}, or {@code Object[]} for nested arrays.
 *
 * <p>Close the file to unmap it; tensors obtained from it must not be used afterwards.
 */
public final class GgufFile implements AutoCloseable {

    private static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    private static final int DEFAULT_ALIGNMENT = 32;
    private static final String[] GGML_TYPE_NAMES = {
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K",
        "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
        "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0",
        "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};

    private final Path path;
    private final String fileName;
    private final Arena arena;
    private final MemorySegment segment;
    private final int version;
    private final int alignment;
    private final long dataOffset;
    private final Map<String, Object> metadata;
    private final Map<String, GgufTensorInfo> tensors;

    private GgufFile(Path path, Arena arena, MemorySegment segment, int version, int alignment, long dataOffset,
                     Map<String, Object> metadata, Map<String, GgufTensorInfo> tensors) {
        this.path = path;
        this.fileName = String.valueOf(path.getFileName());
        this.arena = arena;
        this.segment = segment;
        this.version = version;
        this.alignment = alignment;
        this.dataOffset = dataOffset;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /**
     * Maps and parses {@code path}.
     *
     * @throws GgufFormatException when the file is not a well-formed GGUF file (one-line message)
     * @throws IOException         when it cannot be opened or mapped
     */
    public static GgufFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment;
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                segment = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            }
            GgufFile file = parse(path, arena, segment);
            return file;
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static GgufFile parse(Path path, Arena arena, MemorySegment segment) {
        Reader in = new Reader(String.valueOf(path.getFileName()), segment);
        if (segment.byteSize() < 4 || in.u32() != MAGIC) {
            throw in.error("not a GGUF file (bad magic; expected \"GGUF\")");
        }
        int version = in.u32();
        if (version != 2 && version != 3) {
            throw in.error("unsupported GGUF version " + Integer.toUnsignedString(version)
                    + (version == 1 ? " (only 2 and 3 are read)" : " (only 2 and 3 are read; big-endian files are not supported)"));
        }
        long tensorCount = in.count("tensor count", 8 + 4 + 8 + 8); // each info has at least name len, n_dims, type, offset
        long kvCount = in.count("metadata count", 8 + 4);

        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata key #" + i);
            int valueType = in.u32();
            metadata.put(key, in.value(valueType, key));
        }

        int alignment = DEFAULT_ALIGNMENT;
        Object a = metadata.get("general.alignment");
        if (a != null) {
            if (!(a instanceof Number n) || n.longValue() <= 0 || n.longValue() > (1 << 30)
                    || Long.bitCount(n.longValue()) != 1) {
                throw in.error("general.alignment " + a + " is not a positive power of two");
            }
            alignment = n.intValue();
        }

        record Raw(String name, long[] dims, int typeId, long offset) {
        }
        Raw[] raws = new Raw[(int) tensorCount];
        for (int i = 0; i < tensorCount; i++) {
            String name = in.string("tensor name #" + i);
            int nDims = in.u32();
            if (nDims < 1 || nDims > 4) {
                throw in.error("tensor " + name + " has " + Integer.toUnsignedString(nDims) + " dimensions (1 to 4 allowed)");
            }
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = in.u64();
                if (dims[d] <= 0 || dims[d] > Integer.MAX_VALUE) {
                    throw in.error("tensor " + name + " has dimension ne[" + d + "] = " + Long.toUnsignedString(dims[d])
                            + " out of range");
                }
            }
            int typeId = in.u32();
            long offset = in.u64();
            raws[i] = new Raw(name, dims, typeId, offset);
        }
        long dataOffset = align(in.pos, alignment);
        long fileSize = segment.byteSize();

        Map<String, GgufTensorInfo> tensors = new LinkedHashMap<>();
        for (Raw r : raws) {
            TensorType type = TensorType.fromGgmlId(r.typeId);
            if (type == null) {
                String known = r.typeId >= 0 && r.typeId < GGML_TYPE_NAMES.length
                        ? " (" + GGML_TYPE_NAMES[r.typeId] + ", not supported by this engine)" : "";
                throw in.error("tensor " + r.name + " has unknown type id " + Integer.toUnsignedString(r.typeId) + known);
            }
            long elements = 1;
            for (long d : r.dims) {
                if (elements > Long.MAX_VALUE / d) {
                    throw in.error("tensor " + r.name + " has " + java.util.Arrays.toString(r.dims) + " elements, more than fit a file");
                }
                elements *= d;
            }
            if (r.dims[0] % type.blockSize != 0) {
                throw in.error("tensor " + r.name + " has rows of " + r.dims[0] + " elements, not a multiple of the "
                        + type + " block size " + type.blockSize);
            }
            long bytes = type.bytesFor(elements);
            if (r.offset < 0 || r.offset % alignment != 0) {
                throw in.error("tensor " + r.name + " has data offset " + Long.toUnsignedString(r.offset)
                        + ", not a multiple of the alignment " + alignment);
            }
            if (r.offset > fileSize || dataOffset + r.offset + bytes > fileSize) {
                throw in.error("truncated: tensor " + r.name + " data needs " + bytes + " bytes past offset "
                        + (dataOffset + r.offset) + ", file has " + fileSize);
            }
            if (tensors.put(r.name, new GgufTensorInfo(r.name, type, r.dims, r.offset, dataOffset + r.offset, bytes)) != null) {
                throw in.error("tensor " + r.name + " appears twice");
            }
        }
        return new GgufFile(path, arena, segment, version, alignment, dataOffset, metadata, tensors);
    }

    private static long align(long pos, int alignment) {
        return (pos + alignment - 1) / alignment * alignment;
    }

    // ---------------------------------------------------------------------------------------------- accessors

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    /** Absolute file offset where tensor data begins. */
    public long dataOffset() {
        return dataOffset;
    }

    /** The whole mapped file. */
    public MemorySegment segment() {
        return segment;
    }

    /** All metadata, in file order (unmodifiable). */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** Tensor infos by name, in file order (unmodifiable). */
    public Map<String, GgufTensorInfo> tensorInfos() {
        return tensors;
    }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    /** {@code general.architecture}, e.g. {@code gemma3}. */
    public String architecture() {
        return getString("general.architecture");
    }

    /**
     * The tensor {@code name} as a [rows x cols] matrix over the mapped bytes (cols = ne[0], rows = the product of
     * the other dimensions).
     *
     * @throws GgufFormatException when the file has no such tensor
     */
    public WeightTensor tensor(String name) {
        GgufTensorInfo info = tensors.get(name);
        if (info == null) {
            throw new GgufFormatException(fileName + ": no tensor named " + name);
        }
        MemorySegment data = segment.asSlice(info.fileOffset(), info.bytes());
        try {
            return Tensors.of(name, info.type(), info.rows(), (int) info.cols(), data);
        } catch (UnsupportedOperationException e) {
            throw new GgufFormatException(fileName + ": " + e.getMessage());
        }
    }

    public boolean contains(String key) {
        return metadata.containsKey(key);
    }

    private Object require(String key) {
        Object v = metadata.get(key);
        if (v == null) {
            throw new GgufFormatException(fileName + ": metadata key " + key + " is missing");
        }
        return v;
    }

    private GgufFormatException wrongType(String key, Object v, String expected) {
        return new GgufFormatException(fileName + ": metadata key " + key + " holds a " + v.getClass().getSimpleName()
                + ", expected " + expected);
    }

    public int getInt(String key) {
        Object v = require(key);
        if (v instanceof Integer || v instanceof Long) {
            long l = ((Number) v).longValue();
            if (l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
                return (int) l;
            }
            throw new GgufFormatException(fileName + ": metadata key " + key + " = " + l + " does not fit an int");
        }
        throw wrongType(key, v, "an integer");
    }

    public int getInt(String key, int defaultValue) {
        return metadata.containsKey(key) ? getInt(key) : defaultValue;
    }

    public long getLong(String key) {
        Object v = require(key);
        if (v instanceof Integer || v instanceof Long) {
            return ((Number) v).longValue();
        }
        throw wrongType(key, v, "an integer");
    }

    public long getLong(String key, long defaultValue) {
        return metadata.containsKey(key) ? getLong(key) : defaultValue;
    }

    /** A float32 or float64 value (integers are accepted too). */
    public float getFloat(String key) {
        Object v = require(key);
        if (v instanceof Number n) {
            return n.floatValue();
        }
        throw wrongType(key, v, "a number");
    }

    public float getFloat(String key, float defaultValue) {
        return metadata.containsKey(key) ? getFloat(key) : defaultValue;
    }

    public boolean getBoolean(String key) {
        Object v = require(key);
        if (v instanceof Boolean b) {
            return b;
        }
        throw wrongType(key, v, "a bool");
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        return metadata.containsKey(key) ? getBoolean(key) : defaultValue;
    }

    public String getString(String key) {
        Object v = require(key);
        if (v instanceof String s) {
            return s;
        }
        throw wrongType(key, v, "a string");
    }

    public String getString(String key, String defaultValue) {
        return metadata.containsKey(key) ? getString(key) : defaultValue;
    }

    public String[] getStringArray(String key) {
        Object v = require(key);
        if (v instanceof String[] a) {
            return a;
        }
        throw wrongType(key, v, "an array of strings");
    }

    public float[] getFloatArray(String key) {
        Object v = require(key);
        if (v instanceof float[] a) {
            return a;
        }
        if (v instanceof double[] d) {
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) {
                f[i] = (float) d[i];
            }
            return f;
        }
        throw wrongType(key, v, "an array of floats");
    }

    /** An array of any integer type of at most 32 bits (uint32 values must fit an int). */
    public int[] getIntArray(String key) {
        Object v = require(key);
        if (v instanceof int[] a) {
            return a;
        }
        if (v instanceof long[] l) {
            int[] r = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                if (l[i] < Integer.MIN_VALUE || l[i] > Integer.MAX_VALUE) {
                    throw new GgufFormatException(fileName + ": metadata key " + key + "[" + i + "] = " + l[i]
                            + " does not fit an int");
                }
                r[i] = (int) l[i];
            }
            return r;
        }
        throw wrongType(key, v, "an array of integers");
    }

    /** Unmaps the file. */
    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]";
    }

    // ---------------------------------------------------------------------------------------------- parsing

    /** Bounds-checked little-endian cursor over the mapped file. */
    private static final class Reader {
        private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        final String file;
        final MemorySegment seg;
        final long size;
        long pos;

        Reader(String file, MemorySegment seg) {
            this.file = file;
            this.seg = seg;
            this.size = seg.byteSize();
        }

        GgufFormatException error(String what) {
            return new GgufFormatException(file + ": " + what);
        }

        void need(long n) {
            if (n < 0 || pos + n > size) {
                throw error("truncated: header needs " + n + " bytes at offset " + pos + ", file has " + size);
            }
        }

        int u8() {
            need(1);
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
        }

        int u16() {
            need(2);
            int v = seg.get(U16, pos) & 0xFFFF;
            pos += 2;
            return v;
        }

        int u32() {
            need(4);
            int v = seg.get(U32, pos);
            pos += 4;
            return v;
        }

        long u64() {
            need(8);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        /** A uint64 count whose items take at least {@code minItemBytes} each: must fit what is left of the file. */
        long count(String what, long minItemBytes) {
            long n = u64();
            if (n < 0 || n > Integer.MAX_VALUE - 8) {
                throw error(what + " " + Long.toUnsignedString(n) + " is out of range (file has " + size + " bytes)");
            }
            if (n > (size - pos) / minItemBytes) {
                throw error("truncated: " + what + " " + n + " needs at least " + n * minItemBytes + " bytes past offset "
                        + pos + ", file has " + size);
            }
            return n;
        }

        String string(String what) {
            long len = u64();
            if (len < 0 || len > size - pos) {
                throw error("truncated: " + what + " claims " + Long.toUnsignedString(len) + " bytes at offset " + pos
                        + ", file has " + size);
            }
            byte[] bytes = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            return new String(bytes, StandardCharsets.UTF_8);
        }

        Object value(int type, String key) {
            return switch (type) {
                case 0 -> u8();                                  // uint8
                case 1 -> (int) (byte) u8();                     // int8
                case 2 -> u16();                                 // uint16
                case 3 -> (int) (short) u16();                   // int16
                case 4 -> Integer.toUnsignedLong(u32());         // uint32
                case 5 -> u32();                                 // int32
                case 6 -> Float.intBitsToFloat(u32());           // float32
                case 7 -> u8() != 0;                             // bool
                case 8 -> string("value of " + key);             // string
                case 9 -> array(key);
                case 10, 11 -> u64();                            // uint64, int64
                case 12 -> Double.longBitsToDouble(u64());       // float64
                default -> throw error("metadata key " + key + " has unknown value type " + Integer.toUnsignedString(type));
            };
        }

        private static int elementBytes(int type) {
            return switch (type) {
                case 0, 1, 7 -> 1;
                case 2, 3 -> 2;
                case 4, 5, 6 -> 4;
                case 8, 10, 11, 12 -> 8; // a string takes at least its 8-byte length
                case 9 -> 12;
                default -> 1;
            };
        }

        Object array(String key) {
            int type = u32();
            if (type < 0 || type > 12) {
                throw error("metadata key " + key + " is an array of unknown value type " + Integer.toUnsignedString(type));
            }
            int n = (int) count("array length of " + key, elementBytes(type));
            switch (type) {
                case 0, 1, 2, 3, 5 -> {
                    int[] a = new int[n];
                    for (int i = 0; i < n; i++) {
                        a[i] = (Integer) value(type, key);
                    }
                    return a;
                }
                case 4, 10, 11 -> {
                    long[] a = new long[n];
                    for (int i = 0; i < n; i++) {
                        a[i] = type == 4 ? Integer.toUnsignedLong(u32()) : u64();
                    }
                    return a;
                }
                case 6 -> {
                    float[] a = new float[n];
                    MemorySegment.copy(seg, F32, pos, a, 0, n);
                    pos += 4L * n;
                    return a;
                }
                case 12 -> {
                    double[] a = new double[n];
                    MemorySegment.copy(seg, F64, pos, a, 0, n);
                    pos += 8L * n;
                    return a;
                }
                case 7 -> {
                    boolean[] a = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        a[i] = u8() != 0;
                    }
                    return a;
                }
                case 8 -> {
                    String[] a = new String[n];
                    for (int i = 0; i < n; i++) {
                        a[i] = string(key + "[" + i + "]");
                    }
                    return a;
                }
                default -> { // nested arrays
                    Object[] a = new Object[n];
                    for (int i = 0; i < n; i++) {
                        a[i] = array(key + "[" + i + "]");
                    }
                    return a;
                }
            }
        }
    }

    /** Names of the types in {@code tensorInfos()} with how many tensors each, for logs. */
    public Map<TensorType, Integer> typeCounts() {
        Map<TensorType, Integer> counts = new LinkedHashMap<>();
        for (GgufTensorInfo t : tensors.values()) {
            counts.merge(t.type(), 1, Integer::sum);
        }
        return counts;
    }
}
