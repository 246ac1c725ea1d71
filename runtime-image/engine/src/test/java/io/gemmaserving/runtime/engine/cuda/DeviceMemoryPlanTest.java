package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.DeviceMemoryPlan.Limits;
import io.gemmaserving.runtime.engine.cuda.DeviceMemoryPlan.Region;
import io.gemmaserving.runtime.engine.cuda.DeviceMemoryPlan.TensorSpec;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Tag("unit")
class DeviceMemoryPlanTest {

    // A small Gemma-2-shaped model: 4 layers (0 and 2 local, window 64), hidden 256, 4 heads / 2 KV heads of 64,
    // ffn 512, vocab 1000.
    static final ModelDims DIMS = new ModelDims(256, 4, 4, 2, 64, 512, 1000, 64,
            new boolean[] {true, false, true, false});
    static final Limits LIMITS = new Limits(1024, 3, 16, 32);

    static List<TensorSpec> tensors(TensorType projType) {
        List<TensorSpec> t = new ArrayList<>();
        t.add(new TensorSpec("token_embd.weight", TensorType.Q8_0, 1000, 256));
        for (int l = 0; l < 4; l++) {
            String b = "blk." + l + ".";
            t.add(new TensorSpec(b + "attn_norm.weight", TensorType.F32, 1, 256));
            t.add(new TensorSpec(b + "attn_q.weight", projType, 4 * 64, 256));
            t.add(new TensorSpec(b + "attn_k.weight", projType, 2 * 64, 256));
            t.add(new TensorSpec(b + "attn_v.weight", projType, 2 * 64, 256));
            t.add(new TensorSpec(b + "attn_output.weight", projType, 256, 4 * 64));
            t.add(new TensorSpec(b + "ffn_gate.weight", projType, 512, 256));
            t.add(new TensorSpec(b + "ffn_up.weight", projType, 512, 256));
            t.add(new TensorSpec(b + "ffn_down.weight", projType, 256, 512));
        }
        return t;
    }

    @Test
    void weightBytesAreTheShardsInTheirStoredFormat() {
        DeviceMemoryPlan one = DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 1), tensors(TensorType.Q8_0), LIMITS, KvCacheType.F16, 0);
        // Q8_0: 34 bytes per 32 values. embedding 1000*256; per layer: norm 256 f32 + q,k,v,o = (256+128+128+256)*256
        // + gate, up, down = 3 * 512*256.
        long q8 = 34 / 32;
        long embed = 1000L * 256 / 32 * 34;
        long perLayer = 256 * 4 + ((256L + 128 + 128 + 256) * 256 + 3L * 512 * 256) / 32 * 34;
        assertEquals(embed + 4 * perLayer, one.weightBytes());
        assertEquals(1, q8);

        // TP=2: projections halve, the embedding and the norms do not.
        DeviceMemoryPlan half = DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 2), tensors(TensorType.Q8_0), LIMITS, KvCacheType.F16, 1);
        long projections = 4 * (perLayer - 256 * 4);
        assertEquals(embed + 4 * 256 * 4 + projections / 2, half.weightBytes());
    }

    @Test
    void slidingWindowLayersGetARingOfWindowPlusChunkNotTheWholeContext() {
        DeviceMemoryPlan p = DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 1), tensors(TensorType.Q8_0), LIMITS, KvCacheType.F16, 0);
        assertEquals(64 + 16 - 1 + DeviceMemoryPlan.SPARE_SLOTS, p.kvCapacity(0));
        assertEquals(1024, p.kvCapacity(1));
        assertEquals(79 + DeviceMemoryPlan.SPARE_SLOTS, p.kvCapacity(2));
        assertEquals(1024, p.kvCapacity(3));
        // k and v, f16, 3 sequences, 2 KV heads of 64
        long width = 2L * 64 * 2;
        int ring = 79 + DeviceMemoryPlan.SPARE_SLOTS;
        assertEquals(2 * 3 * width * (ring + 1024 + ring + 1024), p.kvBytes());
        assertEquals(2 * p.kvBytes(), DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 1), tensors(TensorType.Q8_0), LIMITS,
                KvCacheType.F32, 0).kvBytes(), "f32 keys and values: twice the bytes");
        // with TP=2 each device holds one KV head
        DeviceMemoryPlan tp2 = DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 2), tensors(TensorType.Q8_0), LIMITS, KvCacheType.F16, 0);
        assertEquals(p.kvBytes() / 2, tp2.kvBytes());
        // a context shorter than the window caps the ring
        DeviceMemoryPlan small = DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 1), tensors(TensorType.Q8_0),
                new Limits(40, 1, 16, 16), KvCacheType.F16, 0);
        assertEquals(40, small.kvCapacity(0));
    }

    @Test
    void regionsAreAlignedInOrderAndDoNotOverlap() {
        DeviceMemoryPlan p = DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 2), tensors(TensorType.Q4_0), LIMITS, KvCacheType.F16, 1);
        List<Region> all = new ArrayList<>(p.weights());
        all.addAll(p.kvCache());
        all.add(p.workspace());
        long end = 0;
        for (Region r : all) {
            assertEquals(0, r.offset() % DeviceMemoryPlan.ALIGNMENT, r.name() + " misaligned");
            assertTrue(r.offset() >= end, r.name() + " overlaps the previous region");
            assertTrue(r.offset() - end < DeviceMemoryPlan.ALIGNMENT, r.name() + " leaves a gap beyond padding");
            end = r.offset() + r.bytes();
        }
        assertTrue(p.totalBytes() >= end && p.totalBytes() - end < DeviceMemoryPlan.ALIGNMENT);
        assertEquals(0, p.totalBytes() % DeviceMemoryPlan.ALIGNMENT);
    }

    @Test
    void fitsComparesAgainstUsableMemory() {
        DeviceMemoryPlan p = DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 1), tensors(TensorType.Q8_0), LIMITS, KvCacheType.F16, 0);
        long total = p.totalBytes();
        assertTrue(p.fits(total, 1.0));
        assertFalse(p.fits(total - 1, 1.0));
        assertTrue(p.fits(total * 2, 0.5));
        assertFalse(p.fits(total * 2 - 2, 0.5));
        assertThrows(IllegalArgumentException.class, () -> p.fits(total, 0));
        assertTrue(p.describe().startsWith("device 0: "), p.describe());
    }

    @Test
    void typesWithoutAKernelAreRefusedByName() {
        List<TensorSpec> t = List.of(new TensorSpec("blk.0.ffn_down.weight", TensorType.Q5_K, 256, 512));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DeviceMemoryPlan.of(DIMS, ShardingPlan.of(DIMS, 1), t, LIMITS, KvCacheType.F16, 0));
        assertTrue(e.getMessage().startsWith("blk.0.ffn_down.weight: Q5_K has no CUDA kernel"), e.getMessage());
    }

    @Test
    void workspaceGrowsWithBatchTokensAndShrinksWithTp() {
        long w1 = DeviceMemoryPlan.workspaceBytes(DIMS, ShardingPlan.of(DIMS, 1), LIMITS);
        long w2 = DeviceMemoryPlan.workspaceBytes(DIMS, ShardingPlan.of(DIMS, 2), LIMITS);
        long wBig = DeviceMemoryPlan.workspaceBytes(DIMS, ShardingPlan.of(DIMS, 1), new Limits(1024, 3, 16, 64));
        assertTrue(w2 < w1);
        // 32 more tokens x (2*256 + (8+4)*64 + 1024 + 256) f32 + 32 x 512 bf16
        assertEquals(32L * (512 + 768 + 1024 + 256) * 4 + 32L * 512 * 2, wBig - w1);
    }
}
