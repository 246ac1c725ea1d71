package io.gemmaserving.runtime.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gemmaserving.runtime.engine.ServeOptions;
import io.gemmaserving.runtime.engine.batch.BatchScheduler;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The prefix-caching and speculation options as the operator passes them, and what the scheduler gets from them. */
@Tag("unit")
class SchedulerOptionsTest {

    @Test
    void defaultsCacheWithinTheKvBudgetAndDoNotSpeculate() throws Exception {
        Path model = Files.createTempFile("model", ".gguf");
        ServeOptions o = ServeOptions.parse("--model", model.toString());
        assertNull(ServerMain.check(o));
        BatchScheduler.Config c = ModelHolder.schedulerConfig(o, 4096, 1000);
        assertEquals(4096L * 8 * 1000, c.prefixCacheBytes(), "the whole KV budget");
        assertEquals(256, c.prefixBlock());
        assertEquals(0, c.speculativeDraft());
    }

    @Test
    void optionsReachTheScheduler() throws Exception {
        Path model = Files.createTempFile("model", ".gguf");
        ServeOptions o = ServeOptions.parse("--model", model.toString(), "--speculative-ngram", "6",
                "--speculative-ngram-size", "2", "--prefix-cache-bytes", "1000000", "--prefix-cache-block", "128");
        assertNull(ServerMain.check(o));
        BatchScheduler.Config c = ModelHolder.schedulerConfig(o, 2048, 1000);
        assertEquals(1_000_000, c.prefixCacheBytes());
        assertEquals(128, c.prefixBlock());
        assertEquals(6, c.speculativeDraft());
        assertEquals(2, c.speculativeNgram());
        ServeOptions off = ServeOptions.parse("--model", model.toString(), "--no-prefix-caching");
        assertEquals(0, ModelHolder.schedulerConfig(off, 2048, 1000).prefixCacheBytes());
    }

    @Test
    void badValuesGetOneLine() throws Exception {
        Path model = Files.createTempFile("model", ".gguf");
        String tooLong = ServerMain.check(ServeOptions.parse("--model", model.toString(), "--speculative-ngram", "40"));
        assertTrue(tooLong.startsWith("--speculative-ngram must be in 0..16"), tooLong);
        String block = ServerMain.check(ServeOptions.parse("--model", model.toString(), "--prefix-cache-block", "0"));
        assertTrue(block.startsWith("--prefix-cache-block must be >= 1"), block);
    }
}
