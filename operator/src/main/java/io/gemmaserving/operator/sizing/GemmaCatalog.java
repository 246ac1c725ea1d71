package io.gemmaserving.operator.sizing;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Gemma variants by name, with the numbers from their Hugging Face config.json (text model only for Gemma 3 4B+).
 * Instruction-tuned (-it) and pre-trained (-pt) checkpoints share a shape, so the suffix is ignored.
 */
public final class GemmaCatalog {

    private static final Map<String, ModelShape> SHAPES = new LinkedHashMap<>();

    static {
        // name, parameters, layers, heads, kv heads, head_dim, sliding window, local per global, max positions
        add(new ModelShape("gemma-2b", 2_506_172_416L, 18, 8, 1, 256, 0, 0, 8192));
        add(new ModelShape("gemma-7b", 8_537_680_896L, 28, 16, 16, 256, 0, 0, 8192));
        add(new ModelShape("gemma-2-2b", 2_614_341_888L, 26, 8, 4, 256, 4096, 1, 8192));
        add(new ModelShape("gemma-2-9b", 9_241_705_984L, 42, 16, 8, 256, 4096, 1, 8192));
        add(new ModelShape("gemma-2-27b", 27_227_128_320L, 46, 32, 16, 128, 4096, 1, 8192));
        add(new ModelShape("gemma-3-270m", 268_098_176L, 18, 4, 1, 256, 512, 5, 32768));
        add(new ModelShape("gemma-3-1b", 999_885_952L, 26, 4, 1, 256, 512, 5, 32768));
        add(new ModelShape("gemma-3-4b", 3_880_079_360L, 34, 8, 4, 256, 1024, 5, 131072));
        add(new ModelShape("gemma-3-12b", 11_765_788_416L, 48, 16, 8, 256, 1024, 5, 131072));
        add(new ModelShape("gemma-3-27b", 27_009_002_240L, 62, 32, 16, 128, 1024, 5, 131072));
    }

    private GemmaCatalog() {
    }

    private static void add(ModelShape shape) {
        SHAPES.put(shape.name(), shape);
    }

    /** gemma-2-9b-it, gemma-2-9b-pt, gemma-2-9b and google/gemma-2-9b-it all name the same shape. */
    public static Optional<ModelShape> lookup(String variant) {
        if (variant == null) {
            return Optional.empty();
        }
        String v = variant.toLowerCase();
        v = v.substring(v.lastIndexOf('/') + 1);
        v = v.replaceFirst("-(it|pt)$", "");
        return Optional.ofNullable(SHAPES.get(v));
    }

    public static Iterable<String> names() {
        return SHAPES.keySet();
    }
}
