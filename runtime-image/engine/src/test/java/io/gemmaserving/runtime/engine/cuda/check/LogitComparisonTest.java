package io.gemmaserving.runtime.engine.cuda.check;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import io.gemmaserving.runtime.engine.model.Numerics;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU check's comparison machinery, run on the CPU engine (what it compares the CUDA engine against): the
 * scenario returns the rows it promises, two identical engines agree exactly, and a real numeric difference (the
 * GGML rounding mode) shows up. On the tiny Gemma 2 fixture, window 4, so the 80-token prompt wraps its rings.
 */
@Tag("model")
class LogitComparisonTest {

    static Path fixture(String name) throws Exception {
        return Path.of(LogitComparisonTest.class.getResource("/fixtures/" + name).toURI());
    }

    @Test
    void identicalEnginesAgreeExactlyAndADifferentRoundingShows() throws Exception {
        Path f = fixture("tiny-gemma2-f32.gguf");
        try (Engine a = ModelLoader.load(f, new io.gemmaserving.runtime.engine.EngineOptions("scalar", 1, 1, Numerics.F32, io.gemmaserving.runtime.engine.KvCacheType.F32));
             Engine b = ModelLoader.load(f, new io.gemmaserving.runtime.engine.EngineOptions("scalar", 1, 1, Numerics.F32, io.gemmaserving.runtime.engine.KvCacheType.F32));
             Engine g = ModelLoader.load(f, new io.gemmaserving.runtime.engine.EngineOptions("scalar", 1, 1, Numerics.GGML, io.gemmaserving.runtime.engine.KvCacheType.F32))) {
            List<float[]> ra = LogitComparison.scenario(a, 80, 1);
            // 80 prompt rows; a + b(last) + c(all 7); 6 x 3 decode rows; 3 rewound rows; fork + b
            assertEquals(80 + 1 + 1 + 7 + 18 + 3 + 2, ra.size());
            LogitComparison.Result same = LogitComparison.compare(ra, LogitComparison.scenario(b, 80, 1));
            assertEquals(0.0, same.maxAbsDiff());
            assertEquals(ra.size(), same.argmaxAgree());
            LogitComparison.Result ggml = LogitComparison.compare(ra, LogitComparison.scenario(g, 80, 1));
            assertTrue(ggml.maxAbsDiff() > 0, "GGML rounding changes the logits");
            assertTrue(ggml.relative() < 0.05, "but only by rounding: " + ggml.describe());
        }
    }

    @Test
    void rowsOfDifferentShapesAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> LogitComparison.compare(List.of(new float[3]), List.of(new float[4])));
        assertThrows(IllegalArgumentException.class, () -> LogitComparison.compare(List.of(new float[3]), List.of()));
    }

    @Test
    void aNanCountsAsAnInfiniteDifference() {
        LogitComparison.Result r = LogitComparison.compare(List.of(new float[] {1, 2}), List.of(new float[] {1, Float.NaN}));
        assertEquals(Double.POSITIVE_INFINITY, r.maxAbsDiff());
    }

    @Test
    void decodeBenchCountsTokensOfEverySequence() throws Exception {
        try (Engine a = ModelLoader.load(fixture("tiny-gemma3-q8_0.gguf"), new io.gemmaserving.runtime.engine.EngineOptions("scalar", 1, 1, null, io.gemmaserving.runtime.engine.KvCacheType.F32))) {
            double tps = DecodeBench.tokensPerSecond(a, 3, 5, 1, 4, 7);
            assertTrue(tps > 0 && Double.isFinite(tps), "tok/s " + tps);
        }
    }
}
