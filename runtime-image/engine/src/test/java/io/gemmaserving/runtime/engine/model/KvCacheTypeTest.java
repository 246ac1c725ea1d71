package io.gemmaserving.runtime.engine.model;

import static io.gemmaserving.runtime.engine.model.TinyFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gemmaserving.runtime.engine.Engine.KvCache;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.ServeOptions;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * f16 against f32 keys and values on the tiny checkpoints: the f16 cache is really used (logits move), stays close
 * to f32, and reports and takes half the bytes. Tolerance: max |diff| within REL_TOL of the largest |logit| of the
 * position; a half keeps 11 significant bits (relative error up to 2^-12 per stored value), and the largest ratio
 * measured on these fixtures is 2.1e-3 (tiny-gemma1; 6e-4 and 4e-4 for the others).
 */
@Tag("model")
class KvCacheTypeTest {

    static final double REL_TOL = 5e-3;

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma1", "tiny-gemma2", "tiny-gemma3"})
    void f16StaysCloseToF32InHalfTheBytes(String name) throws Exception {
        Path dir = TinyFixtures.fixtures().resolve(name);
        var golden = TinyFixtures.Golden.read(dir.resolve("golden.json"));
        try (GemmaModel f32 = TinyFixtures.loadHfWithDoubles(dir, 1, KvCacheType.F32);
             GemmaModel f16 = TinyFixtures.loadHfWithDoubles(dir, 1, KvCacheType.F16)) {
            assertEquals(f32.info().kvBytesPerToken(), 2 * f16.info().kvBytesPerToken());
            assertEquals(f32.newKvCache(64).bytes(), 2 * f16.newKvCache(64).bytes());
            double largest = 0;
            for (int[] prompt : golden.prompts()) {
                List<float[]> a = TinyFixtures.decodeOneByOne(f32, prompt);
                List<float[]> b = TinyFixtures.decodeOneByOne(f16, prompt);
                for (int t = 0; t < a.size(); t++) {
                    float range = 0;
                    for (float x : a.get(t)) {
                        range = Math.max(range, Math.abs(x));
                    }
                    largest = Math.max(largest, maxAbsDiff(a.get(t), b.get(t)) / (double) range);
                }
            }
            assertTrue(largest > 0, name + ": f16 keys and values changed nothing, so they are not in use");
            assertTrue(largest <= REL_TOL, name + ": f16 vs f32 max |diff| / max |logit| " + largest);
        }
    }

    /** With global layers only (Gemma 1), a cache of n slots holds exactly n times the reported bytes per token. */
    @Test
    void reportedBytesPerTokenAreTheBytesHeld() throws Exception {
        Path dir = TinyFixtures.fixtures().resolve("tiny-gemma1");
        for (KvCacheType type : KvCacheType.values()) {
            try (GemmaModel m = TinyFixtures.loadHfWithDoubles(dir, 1, type)) {
                KvCache c = m.newKvCache(64);
                m.step(List.of(new io.gemmaserving.runtime.engine.Engine.Step(c, new int[] {3, 4, 5}, false)));
                assertEquals(64 * m.info().kvBytesPerToken(), c.bytes(), type.toString());
            }
        }
    }

    @Test
    void serverOptionChoosesTheType() {
        assertEquals(KvCacheType.F16, ServeOptions.parse("--model", "m.gguf").engineOptions().kvCacheType());
        assertEquals(KvCacheType.F32,
                ServeOptions.parse("--model", "m.gguf", "--kv-cache-dtype", "f32").engineOptions().kvCacheType());
        var e = assertThrows(picocli.CommandLine.ParameterException.class,
                () -> ServeOptions.parse("--model", "m.gguf", "--kv-cache-dtype", "bf16"));
        assertTrue(e.getMessage().contains("KV cache type must be f16 or f32, got 'bf16'"), e.getMessage());
    }
}
