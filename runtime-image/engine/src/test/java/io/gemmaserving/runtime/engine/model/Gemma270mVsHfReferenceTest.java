package io.gemmaserving.runtime.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.batch.TokenSampler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The real Gemma 3 270M (Q4_K_M GGUF) against an independent float32 reference: Hugging Face transformers' own
 * Gemma 3 forward pass on the same file (transformers dequantizes the GGUF itself with the gguf package and runs its
 * PyTorch model in float32, eager attention), and optionally the same model cast to float64 as the arbiter of float32
 * rounding (on the first five prompts the float64 run chose the same 64 tokens as float32 everywhere, its logits
 * 6e-5 from float32's at most; the committed fixture skips it, REF_F64=0, to halve the run time). The fixture {@code fixtures/gemma3-270m-hf-reference.json} is written by {@code hack/make-gemma270m-reference.sh}
 * (run by hand: torch is large); it holds, per prompt of {@link Gemma270mPrompts#PROMPTS}, the reference's
 * 64-token greedy continuation with the top-2 logits of each step, the first step's logits of 320 ids, and the
 * reference run teacher-forced on llama.cpp's greedy tokens (from the llama.cpp fixture).
 *
 * <p>What it showed: ours and the reference agree to ~3e-5 in the logits and token for token; where llama.cpp parted
 * from us (among them prompt 2, gap 0.22), the reference chose our token with the same gap,
 * in float32 and in float64: those divergences are llama.cpp's (its 8-bit activations), not a bug of ours.
 */
@Tag("model")
class Gemma270mVsHfReferenceTest {

    static final int N = 64;
    /**
     * Largest |our logit - reference float32 logit| allowed at the first step, over the 320 recorded ids (the top
     * 256 and 64 random ones). Measured: at most 3.1e-5 on the 5 prompts (and 1.2e-5 on the teacher-forced gaps),
     * while the reference's own float32 and float64 runs differ by up to 6.0e-5 over the whole vocabulary: float32
     * rounding with a different summation order. 2e-4 leaves room for other summation orders (kernel changes, other
     * vector widths) and is still 50x below the smallest gap a greedy choice turned on here (0.006, prompt 4), and
     * ~1000x below llama.cpp's differences (0.1-0.5).
     */
    static final double LOGIT_TOL = 2e-4;

    static GemmaModel model;
    static JsonNode cases;

    @BeforeAll
    static void load() throws Exception {
        String env = System.getenv("GEMMA_270M_GGUF");
        assumeTrue(env != null && Files.isRegularFile(Path.of(env)), "GEMMA_270M_GGUF not set or absent (run hack/setup.sh)");
        Path fixture = TinyFixtures.fixtures().resolve("gemma3-270m-hf-reference.json");
        assumeTrue(Files.isRegularFile(fixture), "no fixture " + fixture + " (hack/make-gemma270m-reference.sh)");
        cases = TinyFixtures.JSON.readTree(fixture.toFile()).get("cases");
        // f32 keys and values: the reference is float32 transformers, and the tolerances are float32 ones
        model = ModelLoader.load(Path.of(env), new EngineOptions("auto", 2, 1, Numerics.F32,
                io.gemmaserving.runtime.engine.KvCacheType.F32));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    int[] promptTokens(int i) {
        String text = model.tokenizer().applyChatTemplate(
                List.of(new ChatMessage("user", Gemma270mPrompts.PROMPTS.get(i))), true);
        return model.tokenizer().encode(text, false);
    }

    /**
     * First step: our logits of the 320 recorded ids within {@link #LOGIT_TOL} of the float32 reference, the top-5
     * in the same order. Then our greedy continuation equals the reference's for all 64 tokens on every prompt.
     */
    @Test
    void firstStepLogitsAndGreedyContinuationsMatchTheF32Reference() {
        double worst = 0;
        assertEquals(Gemma270mPrompts.PROMPTS.size(), cases.size(), "rerun hack/make-gemma270m-reference.sh");
        List<String> report = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            JsonNode c = cases.get(i);
            assertEquals(Gemma270mPrompts.PROMPTS.get(i), c.get("prompt").asText());
            int[] prompt = promptTokens(i);
            assertArrayEquals(ints(c.get("promptTokens")), prompt, "prompt " + i + ": tokens differ from the reference's");
            Engine.KvCache cache = model.newKvCache(prompt.length + N);
            float[] logits = model.step(List.of(new Engine.Step(cache, prompt, true)))[0];

            int[] ids = ints(c.get("firstStep").get("ids"));
            JsonNode f32 = c.get("firstStep").get("f32");
            JsonNode f64 = c.get("firstStep").get("f64"); // null when the fixture was made with REF_F64=0
            boolean has64 = f64 != null && f64.isArray();
            double maxD = 0, maxD64 = 0, refVs64 = 0;
            for (int j = 0; j < ids.length; j++) {
                maxD = Math.max(maxD, Math.abs(logits[ids[j]] - f32.get(j).asDouble()));
                if (has64) {
                    maxD64 = Math.max(maxD64, Math.abs(logits[ids[j]] - f64.get(j).asDouble()));
                    refVs64 = Math.max(refVs64, Math.abs(f32.get(j).asDouble() - f64.get(j).asDouble()));
                }
            }
            report.add(String.format("prompt %d: first step max|ours - f32 ref| %.2e over %d ids", i, maxD, ids.length)
                    + (has64 ? String.format(", max|ours - f64 ref| %.2e, max|f32 ref - f64 ref| %.2e", maxD64, refVs64) : ""));
            assertTrue(maxD <= LOGIT_TOL, report.getLast());
            worst = Math.max(worst, maxD);
            assertArrayEquals(ints(c.get("top5")), Gemma270mPrompts.top5(logits), "prompt " + i + ": first-step top-5");

            int[] ref = ints(c.get("greedy"));
            int[] ours = new int[N];
            for (int t = 0; t < N; t++) {
                ours[t] = TokenSampler.argmax(logits);
                if (ours[t] != ref[t]) {
                    JsonNode top2 = c.get("greedyTop2").get(t);
                    throw new AssertionError("prompt " + i + ": our greedy token " + t + " is " + ours[t] + ", the f32 "
                            + "reference's " + ref[t] + " (ours: logit " + logits[ours[t]] + " vs " + logits[ref[t]]
                            + "; reference top-2 " + top2 + "); ours so far " + Arrays.toString(Arrays.copyOf(ours, t + 1)));
                }
                if (t + 1 < N) {
                    logits = model.step(List.of(new Engine.Step(cache, new int[] {ours[t]}, true)))[0];
                }
            }
        }
        report.forEach(System.out::println);
        System.out.printf("first step: max |ours - f32 reference| %.2e over %d prompts; greedy equal for %d tokens on all%n",
                worst, cases.size(), N);
    }

    /**
     * Where llama.cpp's greedy continuation (the committed llama.cpp fixture) parts from ours, who is right? Run ours
     * teacher-forced on llama.cpp's tokens and compare, at every step, our logit gap (our top-1 minus llama.cpp's
     * token) with the float32 reference's gap on the same tokens: they agree within 2 x {@link #LOGIT_TOL}, and the
     * reference's top-1 is our top-1 or within that much of it. Every step where
     * llama.cpp's token is not the reference's top-1 is printed with both gaps: those are llama.cpp's divergences,
     * not ours.
     */
    @Test
    void llamaCppDivergencesAreLlamaCpps() {
        double worst = 0;
        for (int i = 0; i < cases.size(); i++) {
            JsonNode steps = cases.get(i).get("llamaCppTeacherForced");
            int[] prompt = ints(cases.get(i).get("promptTokens"));
            Engine.KvCache cache = model.newKvCache(prompt.length + N);
            float[] logits = model.step(List.of(new Engine.Step(cache, prompt, true)))[0];
            for (int t = 0; t < N; t++) {
                JsonNode s = steps.get(t);
                int lc = s.get("llamaCpp").asInt();
                int ourTop = TokenSampler.argmax(logits);
                double ourGap = logits[ourTop] - logits[lc];
                double refGap = s.get("gap").asDouble();
                worst = Math.max(worst, Math.abs(ourGap - refGap));
                String where = "prompt " + i + " step " + t + ": llama.cpp's token " + lc + ", our top-1 " + ourTop
                        + " (gap " + String.format("%.4f", ourGap) + "), f32 reference top-1 " + s.get("top1").asInt()
                        + " (gap " + refGap + ")" + (s.has("top1F64") ? ", f64 reference top-1 " + s.get("top1F64").asInt()
                        + " (gap " + s.get("gapF64").asDouble() + ")" : "");
                if (lc != s.get("top1").asInt() || lc != ourTop) {
                    System.out.println("LLAMA.CPP DIVERGES " + where);
                }
                assertEquals(refGap, ourGap, 2 * LOGIT_TOL, where);
                // our top-1 differs from the reference's only at a tie within the tolerance
                assertTrue(logits[ourTop] - logits[s.get("top1").asInt()] <= 2 * LOGIT_TOL, where);
                if (t + 1 < N) {
                    logits = model.step(List.of(new Engine.Step(cache, new int[] {lc}, true)))[0];
                }
            }
        }
        System.out.printf("teacher-forced on llama.cpp's tokens: max |our gap - f32 reference gap| %.2e%n", worst);
    }
}
