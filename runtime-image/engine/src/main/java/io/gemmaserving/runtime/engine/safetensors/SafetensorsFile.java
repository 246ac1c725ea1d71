package io.gemmaserving.runtime.engine.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One {@code .safetensors} file, memory-mapped: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end]}, "__metadata__": {...}}}),
 * then the data; offsets are relative to byte {@code 8 + N}. Tensors stay in the mapping.
 */
public final class SafetensorsFile implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20; // the format's own limit is 100 MB

    private final Path path;
    private final String fileName;
    private final Arena arena;
    private final MemorySegment segment;
    private final long dataOffset;
    private final Map<String, String> metadata;
    private final Map<String, SafetensorsTensorInfo> tensors;

    private SafetensorsFile(Path path, Arena arena, MemorySegment segment, long dataOffset, Map<String, String> metadata,
                            Map<String, SafetensorsTensorInfo> tensors) {
        this.path = path;
        this.fileName = String.valueOf(path.getFileName());
        this.arena = arena;
        this.segment = segment;
        this.dataOffset = dataOffset;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /**
     * Maps and parses {@code path}.
     *
     * @throws SafetensorsFormatException for a malformed header or data that runs past the end (one line)
     * @throws IOException                when the file cannot be opened or mapped
     */
    public static SafetensorsFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment segment;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                segment = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            }
            return parse(path, arena, segment);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static SafetensorsFormatException error(String file, String what) {
        return new SafetensorsFormatException(file + ": " + what);
    }

    private static SafetensorsFile parse(Path path, Arena arena, MemorySegment seg) {
        String file = String.valueOf(path.getFileName());
        long size = seg.byteSize();
        if (size < 8) {
            throw error(file, "truncated: " + size + " bytes, too short for the 8-byte header length");
        }
        long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n < 2 || n > MAX_HEADER) {
            throw error(file, "header length " + Long.toUnsignedString(n) + " is out of range (not a safetensors file?)");
        }
        if (8 + n > size) {
            throw error(file, "truncated: header needs " + n + " bytes past offset 8, file has " + size);
        }
        String text = new String(seg.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw error(file, "header is not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw error(file, "header is not a JSON object");
        }
        long dataOffset = 8 + n;
        long dataSize = size - dataOffset;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, SafetensorsTensorInfo> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode t = e.getValue();
            if (name.equals("__metadata__")) {
                if (t.isObject()) {
                    t.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                }
                continue;
            }
            JsonNode dtype = t.get("dtype"), shape = t.get("shape"), offsets = t.get("data_offsets");
            if (dtype == null || !dtype.isTextual() || shape == null || !shape.isArray() || offsets == null
                    || !offsets.isArray() || offsets.size() != 2) {
                throw error(file, "tensor " + name + " needs dtype, shape and data_offsets [begin, end]");
            }
            long[] dims = new long[shape.size()];
            long elements = 1;
            for (int i = 0; i < dims.length; i++) {
                JsonNode d = shape.get(i);
                if (!d.canConvertToLong() || d.asLong() < 0) {
                    throw error(file, "tensor " + name + " has a bad shape " + shape);
                }
                dims[i] = d.asLong();
                if (dims[i] != 0 && elements > Long.MAX_VALUE / dims[i]) {
                    throw error(file, "tensor " + name + " has a shape " + shape + " too large for any file");
                }
                elements *= dims[i];
            }
            long begin = offsets.get(0).asLong(-1), end = offsets.get(1).asLong(-1);
            if (begin < 0 || end < begin) {
                throw error(file, "tensor " + name + " has bad data_offsets " + offsets);
            }
            if (end > dataSize) {
                throw error(file, "truncated: tensor " + name + " data needs " + (end - begin) + " bytes past offset "
                        + (dataOffset + begin) + ", file has " + size);
            }
            int width = dtypeBytes(dtype.asText());
            if (width > 0 && elements * width != end - begin) {
                throw error(file, "tensor " + name + " of shape " + shape + " " + dtype.asText() + " needs "
                        + elements * width + " bytes, data_offsets give " + (end - begin));
            }
            tensors.put(name, new SafetensorsTensorInfo(name, dtype.asText(), dims, begin, end));
        }
        return new SafetensorsFile(path, arena, seg, dataOffset, metadata, tensors);
    }

    /** Bytes per element of a dtype, 0 when unknown. */
    static int dtypeBytes(String dtype) {
        return switch (dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> 0;
        };
    }

    public Path path() {
        return path;
    }

    /** {@code __metadata__}, values as text. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor infos by name, in header order. */
    public Map<String, SafetensorsTensorInfo> tensorInfos() {
        return tensors;
    }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    /**
     * {@code name} as a [rows x cols] matrix over the mapped bytes (cols = last dimension, rows = the product of
     * the others; a 1-D tensor is 1 x n). BF16, F16 and F32 only.
     */
    public WeightTensor tensor(String name) {
        SafetensorsTensorInfo info = tensors.get(name);
        if (info == null) {
            throw error(fileName, "no tensor named " + name);
        }
        TensorType type = switch (info.dtype()) {
            case "BF16" -> TensorType.BF16;
            case "F16" -> TensorType.F16;
            case "F32" -> TensorType.F32;
            default -> throw error(fileName, "tensor " + name + " has dtype " + info.dtype() + " (BF16, F16 and F32 are read)");
        };
        if (info.cols() > Integer.MAX_VALUE || info.rows() * info.cols() == 0) {
            throw error(fileName, "tensor " + name + " of shape " + java.util.Arrays.toString(info.shape())
                    + " is not a non-empty matrix with at most 2^31-1 columns");
        }
        MemorySegment data = segment.asSlice(dataOffset + info.begin(), info.end() - info.begin());
        return Tensors.of(name, type, info.rows(), (int) info.cols(), data);
    }

    @Override
    public void close() {
        arena.close();
    }
}
