package io.gemmaserving.runtime.engine.model;

import static io.gemmaserving.runtime.engine.model.TinyFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gemmaserving.runtime.engine.EngineOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The loader end to end (real GGUF/safetensors readers, tensor classes, tokenizer and the vector backend) against
 * the transformers goldens. Tolerances: 1e-4 for F32 GGUF and bf16 safetensors (same weights as the goldens),
 * 2e-3 for F16 GGUF (bf16 -> f16 is exact except for f16 subnormals), 2e-2 for Q8_0 against goldens recomputed on
 * the Q8_0-dequantized weights (the kernels may quantize activations, as llama.cpp does).
 */
@Tag("model")
class ModelLoaderTest {

    @ParameterizedTest
    @CsvSource({
        "tiny-gemma1, tiny-gemma1, golden.json, 1e-4",
        "tiny-gemma2, tiny-gemma2, golden.json, 1e-4",
        "tiny-gemma3, tiny-gemma3, golden.json, 1e-4",
        "tiny-gemma1-f32.gguf, tiny-gemma1, golden.json, 1e-4",
        "tiny-gemma2-f32.gguf, tiny-gemma2, golden.json, 1e-4",
        "tiny-gemma3-f16.gguf, tiny-gemma3, golden.json, 2e-3",
        "tiny-gemma3-q8_0.gguf, tiny-gemma3, golden-q8_0.json, 2e-2"})
    void matchesGoldens(String model, String dir, String goldenFile, float tol) throws Exception {
        Path fx = TinyFixtures.fixtures();
        var golden = TinyFixtures.Golden.read(fx.resolve(dir).resolve(goldenFile));
        // f32 keys and values: the goldens are float32 references (KvCacheTest bounds what f16 changes)
        try (GemmaModel m = ModelLoader.load(fx.resolve(model), new EngineOptions("auto", 2, 1, Numerics.F32,
                io.gemmaserving.runtime.engine.KvCacheType.F32))) {
            assertEquals(golden.logits()[0][0].length, m.info().vocabSize());
            for (int p = 0; p < golden.prompts().length; p++) {
                List<float[]> ours = TinyFixtures.decodeOneByOne(m, golden.prompts()[p]);
                for (int t = 0; t < ours.size(); t++) {
                    float d = maxAbsDiff(ours.get(t), golden.logits()[p][t]);
                    assertTrue(d <= tol, model + " prompt " + p + " position " + t + ": max |diff| " + d + " > " + tol);
                }
            }
            // The tokenizer came along with the weights.
            assertEquals(2, m.tokenizer().bosId());
        }
    }

    @Test
    void nonGemmaGgufIsOneClearLine(@TempDir Path tmp) throws Exception {
        // A GGUF whose architecture is llama: copy the tiny file and patch the architecture string in place.
        byte[] b = Files.readAllBytes(TinyFixtures.fixtures().resolve("tiny-gemma1-f32.gguf"));
        String s = new String(b, java.nio.charset.StandardCharsets.ISO_8859_1);
        int i = s.indexOf("general.architecture");
        int v = s.indexOf("gemma", i + 20);
        byte[] llama = "llama".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        System.arraycopy(llama, 0, b, v, 5);
        Path f = tmp.resolve("x.gguf");
        Files.write(f, b);
        var e = assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(f));
        assertEquals("x.gguf: architecture 'llama' is not Gemma (gemma, gemma2, gemma3 are served)", e.getMessage());
    }

    @Test
    void missingPathIsOneClearLine(@TempDir Path tmp) {
        var e = assertThrows(IllegalArgumentException.class, () -> ModelLoader.load(tmp.resolve("nope.gguf")));
        assertTrue(e.getMessage().endsWith("nope.gguf: no such file or directory"), e.getMessage());
    }
}
