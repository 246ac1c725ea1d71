package io.gemmaserving.runtime.engine.model;

import static io.gemmaserving.runtime.engine.model.TinyFixtures.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gemmaserving.runtime.engine.Engine.KvCache;
import io.gemmaserving.runtime.engine.Engine.Step;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The forward pass against golden logits from Hugging Face transformers (float32, eager attention) for tiny random
 * Gemma 1, 2 and 3 checkpoints (hack/make-tiny-gemma.py). Weights come from the bf16 safetensors through test doubles
 * (heap F32 tensors, a scalar matmul), so this isolates the model code from the format and backend code.
 *
 * <p>Tolerance: max |ours - golden| <= 1e-4 over every vocabulary entry (logits have std ~2; observed ~1e-5): both
 * sides compute in float32 with different summation orders; goldens are stored with 6 significant digits.
 */
@Tag("model")
class GemmaForwardGoldenTest {

    static final float TOL = 1e-4f;

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma1", "tiny-gemma2", "tiny-gemma3"})
    void everyPositionOneTokenAtATime(String name) throws Exception {
        Path dir = TinyFixtures.fixtures().resolve(name);
        var golden = TinyFixtures.Golden.read(dir.resolve("golden.json"));
        try (GemmaModel m = TinyFixtures.loadHfWithDoubles(dir, 1)) {
            for (int p = 0; p < golden.prompts().length; p++) {
                List<float[]> ours = TinyFixtures.decodeOneByOne(m, golden.prompts()[p]);
                for (int t = 0; t < ours.size(); t++) {
                    float d = maxAbsDiff(ours.get(t), golden.logits()[p][t]);
                    assertTrue(d <= TOL, name + " prompt " + p + " position " + t + ": max |diff| " + d);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma1", "tiny-gemma2", "tiny-gemma3"})
    void chunkedPrefillAndBatchedSequences(String name) throws Exception {
        Path dir = TinyFixtures.fixtures().resolve(name);
        var golden = TinyFixtures.Golden.read(dir.resolve("golden.json"));
        try (GemmaModel m = TinyFixtures.loadHfWithDoubles(dir, 2)) {
            int[][] prompts = golden.prompts();
            // 1. Each whole prompt in one step (matrix-matrix prefill), all prompts together in one forward call.
            List<Step> steps = new ArrayList<>();
            for (int[] p : prompts) {
                steps.add(new Step(m.newKvCache(64), p, true));
            }
            float[][] out = m.step(steps);
            for (int p = 0; p < prompts.length; p++) {
                float[][] g = golden.logits()[p];
                assertTrue(maxAbsDiff(out[p], g[g.length - 1]) <= TOL, name + " batched prefill, prompt " + p);
            }
            // 2. Prompt 0 in chunks of 5, 3, then single tokens (crosses the sliding window of 4 mid-chunk),
            //    batched with prompt 1 decoding token by token in the same forward calls; a step without logits too.
            int[] a = prompts[0];
            int[] b = prompts[1];
            KvCache ca = m.newKvCache(a.length);
            KvCache cb = m.newKvCache(b.length);
            int ia = 0;
            int ib = 0;
            int[] chunks = {5, 3, 1, 1, 1, 1};
            for (int step = 0; ia < a.length || ib < b.length; step++) {
                List<Step> s = new ArrayList<>();
                int na = step < chunks.length ? chunks[step] : 1;
                na = Math.min(na, a.length - ia);
                if (na > 0) {
                    s.add(new Step(ca, Arrays.copyOfRange(a, ia, ia + na), true));
                }
                if (ib < b.length) {
                    s.add(new Step(cb, new int[] {b[ib]}, step % 2 == 0));
                }
                float[][] r = m.step(s);
                int k = 0;
                if (na > 0) {
                    ia += na;
                    float d = maxAbsDiff(r[k], golden.logits()[0][ia - 1]);
                    assertTrue(d <= TOL, name + " chunked prompt 0 at position " + (ia - 1) + ": max |diff| " + d);
                    k++;
                }
                if (ib < b.length) {
                    if (step % 2 == 0) {
                        float d = maxAbsDiff(r[k], golden.logits()[1][ib]);
                        assertTrue(d <= TOL, name + " decoded prompt 1 at position " + ib + ": max |diff| " + d);
                    } else {
                        assertEquals(null, r[k], "a step without wantLogits gets null");
                    }
                    ib++;
                }
            }
            assertEquals(a.length, ca.length());
            assertEquals(b.length, cb.length());
        }
    }
}
