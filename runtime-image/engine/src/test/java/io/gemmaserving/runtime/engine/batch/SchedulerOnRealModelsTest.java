package io.gemmaserving.runtime.engine.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import io.gemmaserving.runtime.engine.model.Numerics;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Prefix caching and prompt-lookup speculation on real engines (the tiny GGUF fixtures, sliding window 4, and the
 * Gemma 3 270M, window 512, when $GEMMA_270M_GGUF is there), through the CPU engine's own kernels: with a seed the
 * output must be the same token for token as the plain scheduler's, with and without sampling.
 */
@Tag("model")
class SchedulerOnRealModelsTest {

    static Stream<String> models() {
        List<String> m = new ArrayList<>(List.of("fixture:tiny-gemma3-q8_0.gguf", "fixture:tiny-gemma2-f32.gguf"));
        m.add("env:GEMMA_270M_GGUF");
        return m.stream();
    }

    private static Path resolve(String model) throws URISyntaxException {
        if (model.startsWith("env:")) {
            String env = System.getenv(model.substring(4));
            assumeTrue(env != null && Files.isRegularFile(Path.of(env)), model + " not set or absent (run hack/setup.sh)");
            return Path.of(env);
        }
        return Path.of(SchedulerOnRealModelsTest.class.getResource("/fixtures/" + model.substring(8)).toURI());
    }

    /** An input-grounded prompt: a passage, then the start of its copy, so the answer repeats the passage. */
    private static final String PASSAGE = "The committee met on Tuesday to review the budget for the new library."
            + " After a long discussion, the members agreed to fund the reading room, the children's section and"
            + " the archive, but they postponed the decision on the café until the spring meeting.";

    private static List<Integer> run(BatchScheduler s, int[] prompt, GenerationParams params) throws Exception {
        Collector c = new Collector();
        s.submit(prompt, params, c);
        c.done.get(10, TimeUnit.MINUTES); // the 270M on a busy 2-core machine, kernels not yet compiled
        return c.tokens;
    }

    @ParameterizedTest
    @MethodSource("models")
    void speculationAndPrefixReuseGiveThePlainOutput(String name) throws Exception {
        Path path = resolve(name);
        try (Engine m = ModelLoader.load(path, new EngineOptions("auto", 2, 1, Numerics.F32))) {
            String text = "Copy the passage exactly.\nPassage: " + PASSAGE + "\nCopy: " + PASSAGE.substring(0, 40);
            int[] prompt = m.tokenizer().encode(text, true);
            List<GenerationParams> cases = List.of(GenerationParams.greedy(48),
                    new GenerationParams(48, 0.7, 0.9, 42L, List.of(), false, 0));
            BatchScheduler.Config plain = new BatchScheduler.Config(1024, 2, 4, 64);
            List<List<Integer>> want = new ArrayList<>();
            try (BatchScheduler s = new BatchScheduler(m, plain).start()) {
                for (GenerationParams p : cases) {
                    want.add(run(s, prompt, p));
                }
            }
            try (BatchScheduler s = new BatchScheduler(m, plain.withSpeculation(8, 3)).start()) {
                for (int i = 0; i < cases.size(); i++) {
                    assertEquals(want.get(i), run(s, prompt, cases.get(i)), name + " speculative, " + cases.get(i));
                }
                assertTrue(s.draftTokens() > 0, "prompt lookup drafted");
                System.out.printf("%s: %d of %d draft tokens accepted%n", name, s.acceptedDraftTokens(), s.draftTokens());
            }

            // a second turn on the first one's answer: reused from the cache (a snapshot every 32 tokens), the same
            int[] turn2 = Arrays.copyOf(prompt, prompt.length + want.get(0).size() + 3);
            for (int i = 0; i < want.get(0).size(); i++) {
                turn2[prompt.length + i] = want.get(0).get(i);
            }
            int[] tail = m.tokenizer().encode(" Now shorter:", false);
            System.arraycopy(tail, 0, turn2, prompt.length + want.get(0).size(), Math.min(3, tail.length));
            List<Integer> turn2Plain;
            try (BatchScheduler s = new BatchScheduler(m, plain).start()) {
                turn2Plain = run(s, turn2, cases.get(1));
            }
            try (BatchScheduler s = new BatchScheduler(m, plain.withPrefixCache(1L << 30, 32)).start()) {
                run(s, prompt, cases.get(0));
                assertEquals(turn2Plain, run(s, turn2, cases.get(1)), name + " second turn from the prefix cache");
                assertTrue(s.prefixCacheHits() >= prompt.length, "reused at least the first prompt: "
                        + s.prefixCacheHits() + " of " + s.prefixCacheQueries());
            }
        }
    }
}
