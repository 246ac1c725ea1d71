package io.gemmaserving.runtime.engine.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A Hugging Face checkpoint directory: one or more {@code *.safetensors} shards, with
 * {@code model.safetensors.index.json} ({@code {"weight_map": {"tensor name": "shard file"}}}) when sharded.
 * Every shard is mapped; {@link #tensor(String)} finds the shard that holds a name.
 */
public final class SafetensorsDirectory implements AutoCloseable {

    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byTensor;

    private SafetensorsDirectory(Path dir, List<SafetensorsFile> files, Map<String, SafetensorsFile> byTensor) {
        this.dir = dir;
        this.files = files;
        this.byTensor = byTensor;
    }

    /**
     * Opens every shard of {@code dir}: those the index names when it exists, else every {@code *.safetensors}.
     *
     * @throws SafetensorsFormatException when there is no shard, the index is broken or names a missing shard, a
     *                                    shard is malformed, or two shards hold the same tensor
     */
    public static SafetensorsDirectory open(Path dir) throws IOException {
        String where = String.valueOf(dir.getFileName());
        if (!Files.isDirectory(dir)) {
            throw new SafetensorsFormatException(where + ": not a directory");
        }
        TreeSet<String> shardNames = new TreeSet<>();
        Path index = dir.resolve(INDEX);
        Map<String, String> weightMap = null;
        if (Files.isRegularFile(index)) {
            JsonNode root;
            try {
                root = new ObjectMapper().readTree(index.toFile());
            } catch (IOException e) {
                throw new SafetensorsFormatException(where + "/" + INDEX + ": not valid JSON");
            }
            JsonNode map = root == null ? null : root.get("weight_map");
            if (map == null || !map.isObject()) {
                throw new SafetensorsFormatException(where + "/" + INDEX + ": no weight_map object");
            }
            weightMap = new LinkedHashMap<>();
            for (var it = map.fields(); it.hasNext(); ) {
                var e = it.next();
                weightMap.put(e.getKey(), e.getValue().asText());
                shardNames.add(e.getValue().asText());
            }
            for (String s : shardNames) {
                if (!Files.isRegularFile(dir.resolve(s))) {
                    throw new SafetensorsFormatException(where + ": " + INDEX + " names " + s + ", which is missing");
                }
            }
        } else {
            try (Stream<Path> list = Files.list(dir)) {
                list.filter(p -> p.getFileName().toString().endsWith(".safetensors") && Files.isRegularFile(p))
                        .forEach(p -> shardNames.add(p.getFileName().toString()));
            }
        }
        if (shardNames.isEmpty()) {
            throw new SafetensorsFormatException(where + ": no *.safetensors files");
        }
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> byTensor = new LinkedHashMap<>();
        try {
            for (String s : shardNames) {
                SafetensorsFile f = SafetensorsFile.open(dir.resolve(s));
                files.add(f);
                for (String name : f.tensorInfos().keySet()) {
                    SafetensorsFile before = byTensor.put(name, f);
                    if (before != null) {
                        throw new SafetensorsFormatException(where + ": tensor " + name + " is in both "
                                + before.path().getFileName() + " and " + s);
                    }
                }
            }
            if (weightMap != null) {
                for (Map.Entry<String, String> e : weightMap.entrySet()) {
                    SafetensorsFile f = byTensor.get(e.getKey());
                    if (f == null || !f.path().getFileName().toString().equals(e.getValue())) {
                        throw new SafetensorsFormatException(where + ": " + INDEX + " puts " + e.getKey() + " in "
                                + e.getValue() + ", which does not hold it");
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new SafetensorsDirectory(dir, List.copyOf(files), Collections.unmodifiableMap(byTensor));
    }

    public List<SafetensorsFile> files() {
        return files;
    }

    /** Every tensor name, shard by shard. */
    public java.util.Set<String> tensorNames() {
        return byTensor.keySet();
    }

    public boolean hasTensor(String name) {
        return byTensor.containsKey(name);
    }

    public SafetensorsTensorInfo info(String name) {
        return shard(name).tensorInfos().get(name);
    }

    /** {@code name} as a [rows x cols] matrix (BF16, F16, F32), over the shard's mapping. */
    public WeightTensor tensor(String name) {
        return shard(name).tensor(name);
    }

    private SafetensorsFile shard(String name) {
        SafetensorsFile f = byTensor.get(name);
        if (f == null) {
            throw new SafetensorsFormatException(dir.getFileName() + ": no tensor named " + name);
        }
        return f;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
