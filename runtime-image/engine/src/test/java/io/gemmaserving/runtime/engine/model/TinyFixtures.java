package io.gemmaserving.runtime.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.backend.Backend;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** The tiny Gemma fixtures made by hack/make-tiny-gemma.py, and small test doubles that need nothing else. */
final class TinyFixtures {

    static final ObjectMapper JSON = new ObjectMapper();

    static Path fixtures() {
        try {
            return Path.of(TinyFixtures.class.getResource("/fixtures").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** prompts[p] token ids; logits[p][position][vocab] from transformers. */
    record Golden(int[][] prompts, float[][][] logits) {
        static Golden read(Path file) throws IOException {
            JsonNode g = JSON.readTree(file.toFile());
            int n = g.get("prompts").size();
            int[][] prompts = new int[n][];
            float[][][] logits = new float[n][][];
            for (int p = 0; p < n; p++) {
                JsonNode pr = g.get("prompts").get(p);
                prompts[p] = new int[pr.size()];
                for (int i = 0; i < pr.size(); i++) {
                    prompts[p][i] = pr.get(i).asInt();
                }
                JsonNode lg = g.get("logits").get(p);
                logits[p] = new float[lg.size()][];
                for (int t = 0; t < lg.size(); t++) {
                    JsonNode row = lg.get(t);
                    logits[p][t] = new float[row.size()];
                    for (int i = 0; i < row.size(); i++) {
                        logits[p][t][i] = (float) row.get(i).asDouble();
                    }
                }
            }
            return new Golden(prompts, logits);
        }
    }

    /** An F32 matrix on the heap (test double for the format classes). */
    record ArrayTensor(String name, long rows, int cols, float[] data) implements WeightTensor {
        @Override
        public TensorType type() {
            return TensorType.F32;
        }

        @Override
        public void dequantizeRow(long row, float[] out, int off) {
            System.arraycopy(data, (int) row * cols, out, off, cols);
        }

        @Override
        public float dotScalar(long row, float[] x, int xOff) {
            float s = 0;
            int base = (int) row * cols;
            for (int i = 0; i < cols; i++) {
                s += data[base + i] * x[xOff + i];
            }
            return s;
        }

        @Override
        public float dotVector(long row, float[] x, int xOff) {
            return dotScalar(row, x, xOff);
        }
    }


    /**
     * Plain scalar matmul through dotScalar; {@code threads > 1} runs the model's parallel loops (attention, row-wise
     * work) on that many threads of a pool of its own, so the tests see them interleave as on a real backend.
     */
    static Backend scalar(int threads) {
        java.util.concurrent.ForkJoinPool pool = threads > 1 ? new java.util.concurrent.ForkJoinPool(threads) : null;
        return new Backend() {
        @Override
        public String name() {
            return "test-scalar";
        }

        @Override
        public int parallelism() {
            return threads;
        }

        @Override
        public void parallelFor(int n, java.util.function.IntConsumer body) {
            if (pool == null) {
                Backend.super.parallelFor(n, body);
            } else {
                pool.submit(() -> java.util.stream.IntStream.range(0, n).parallel().forEach(body)).join();
            }
        }

        @Override
        public void close() {
            if (pool != null) {
                pool.shutdownNow();
            }
        }

        @Override
        public void matmul(WeightTensor w, float[] x, float[] out, int batch) {
            int rows = (int) w.rows();
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) {
                    out[b * rows + r] = w.dotScalar(r, x, b * w.cols());
                }
            }
        }
        };
    }

    /** Reads a bf16/f32 safetensors file into heap F32 tensors (2-D as is, 1-D as one row). */
    static Map<String, WeightTensor> readSafetensors(Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen = (int) buf.getLong(0);
        JsonNode header = JSON.readTree(new String(buf.array(), 8, headerLen, StandardCharsets.UTF_8));
        Map<String, WeightTensor> out = new HashMap<>();
        for (Iterator<String> it = header.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode t = header.get(name);
            JsonNode shape = t.get("shape");
            long start = 8 + headerLen + t.get("data_offsets").get(0).asLong();
            int rows = shape.size() == 1 ? 1 : shape.get(0).asInt();
            int cols = shape.get(shape.size() - 1).asInt();
            float[] data = new float[rows * cols];
            String dtype = t.get("dtype").asText();
            for (int i = 0; i < data.length; i++) {
                data[i] = switch (dtype) {
                    case "BF16" -> Float.intBitsToFloat((buf.getShort((int) start + 2 * i) & 0xffff) << 16);
                    case "F32" -> buf.getFloat((int) start + 4 * i);
                    default -> throw new IllegalArgumentException(dtype);
                };
            }
            out.put(name, new ArrayTensor(name, rows, cols, data));
        }
        return out;
    }

    /**
     * A tiny HF checkpoint as a GemmaModel on test doubles only (no format or backend code of the engine), with an
     * f32 KV cache: the goldens are float32 references, and f16 keys and values move logits by up to 4.4e-3 here.
     */
    static GemmaModel loadHfWithDoubles(Path dir, int threads) throws IOException {
        return loadHfWithDoubles(dir, threads, KvCacheType.F32);
    }

    static GemmaModel loadHfWithDoubles(Path dir, int threads, KvCacheType kv) throws IOException {
        GemmaConfig cfg = GemmaConfig.fromHfConfig(JSON.readTree(dir.resolve("config.json").toFile()), dir.toString());
        Map<String, WeightTensor> tensors = readSafetensors(dir.resolve("model.safetensors"));
        Map<String, String> names = HfNames.ggufToHf(tensors.keySet(), cfg.architecture());
        GemmaWeights w = GemmaWeights.bind(cfg, g -> names.containsKey(g) ? tensors.get(names.get(g)) : null, dir.toString());
        return new GemmaModel(dir.getFileName().toString(), cfg, w, null, scalar(threads), null, Numerics.F32, kv);
    }

    /** Max |a - b| over the vocabulary. */
    static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    /** Logits of every position, one token per forward call (exercises the KV cache at every step). */
    static List<float[]> decodeOneByOne(Engine m, int[] prompt) {
        Engine.KvCache c = m.newKvCache(prompt.length);
        List<float[]> out = new ArrayList<>();
        for (int tok : prompt) {
            out.add(m.step(List.of(new Engine.Step(c, new int[] {tok}, true)))[0]);
        }
        return out;
    }
}
