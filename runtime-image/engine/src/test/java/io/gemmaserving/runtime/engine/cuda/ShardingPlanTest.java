package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.ShardingPlan.Shard;
import io.gemmaserving.runtime.engine.cuda.ShardingPlan.Split;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

@Tag("unit")
class ShardingPlanTest {

    // gemma-2-9b: hidden 3584, 16 heads, 8 KV heads, head_dim 256, ffn 14336
    static final ModelDims GEMMA2_9B = new ModelDims(3584, 42, 16, 8, 256, 14336, 256000, 4096, alternate(42));
    // gemma-3-270m: hidden 640, 4 heads, 1 KV head
    static final ModelDims GEMMA3_270M = new ModelDims(640, 18, 4, 1, 256, 2048, 262144, 512,
            ModelDims.everyNthGlobal(18, 6));

    static boolean[] alternate(int layers) {
        boolean[] l = new boolean[layers];
        for (int i = 0; i < layers; i += 2) {
            l[i] = true;
        }
        return l;
    }

    @Test
    void splitsHeadsKvHeadsAndFfnEvenly() {
        ShardingPlan p = ShardingPlan.of(GEMMA2_9B, 4);
        assertEquals(4, p.headsPerDevice());
        assertEquals(2, p.kvHeadsPerDevice());
        assertEquals(3584, p.ffnPerDevice());
        assertEquals(2, p.allReducesPerLayer());
        assertEquals(0, ShardingPlan.of(GEMMA2_9B, 1).allReducesPerLayer());
    }

    @Test
    void rejectsWhatCannotSplitWithOneLineReasons() {
        IllegalArgumentException notPow2 = assertThrows(IllegalArgumentException.class, () -> ShardingPlan.of(GEMMA2_9B, 3));
        assertEquals("tensor-parallel size 3 is not a power of two (1, 2, 4, 8)", notPow2.getMessage());
        IllegalArgumentException kv = assertThrows(IllegalArgumentException.class, () -> ShardingPlan.of(GEMMA3_270M, 2));
        assertEquals("tensor-parallel size 2 does not divide the 1 KV heads (at most 1 GPUs for this model)", kv.getMessage());
        IllegalArgumentException heads = assertThrows(IllegalArgumentException.class, () -> ShardingPlan.of(GEMMA2_9B, 32));
        assertEquals("tensor-parallel size 32 does not divide the 16 attention heads", heads.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ShardingPlan.of(GEMMA2_9B, 0));
    }

    @Test
    void classifiesTensorsByName() {
        assertEquals(Split.OUTPUT, ShardingPlan.splitOf("blk.3.attn_q.weight"));
        assertEquals(Split.OUTPUT, ShardingPlan.splitOf("blk.3.attn_k.weight"));
        assertEquals(Split.OUTPUT, ShardingPlan.splitOf("blk.3.attn_v.weight"));
        assertEquals(Split.OUTPUT, ShardingPlan.splitOf("blk.3.ffn_gate.weight"));
        assertEquals(Split.OUTPUT, ShardingPlan.splitOf("blk.3.ffn_up.weight"));
        assertEquals(Split.INPUT, ShardingPlan.splitOf("blk.3.attn_output.weight"));
        assertEquals(Split.INPUT, ShardingPlan.splitOf("blk.3.ffn_down.weight"));
        assertEquals(Split.REPLICATED, ShardingPlan.splitOf("blk.3.attn_norm.weight"));
        assertEquals(Split.REPLICATED, ShardingPlan.splitOf("blk.3.attn_q_norm.weight"));
        assertEquals(Split.REPLICATED, ShardingPlan.splitOf("token_embd.weight"));
    }

    @Test
    void shardsCoverTheTensorExactlyOnce() {
        ShardingPlan p = ShardingPlan.of(GEMMA2_9B, 4);
        // q: [heads*headDim = 4096 rows x 3584 cols], split by rows
        long covered = 0;
        for (int d = 0; d < 4; d++) {
            Shard s = p.shard("blk.0.attn_q.weight", TensorType.Q4_K, 4096, 3584, d);
            assertEquals(d * 1024L, s.rowStart());
            assertEquals(1024, s.rowCount());
            assertEquals(3584, s.colCount());
            covered += s.rowCount();
        }
        assertEquals(4096, covered);
        // down: [3584 rows x 14336 cols], split by cols; 3584 per device = 14 Q4_K blocks
        Shard down2 = p.shard("blk.0.ffn_down.weight", TensorType.Q4_K, 3584, 14336, 2);
        assertEquals(new Shard(0, 3584, 7168, 3584), down2);
        assertEquals(new Shard(0, 1, 0, 3584), p.shard("blk.0.attn_norm.weight", TensorType.F32, 1, 3584, 3));
    }

    @Test
    void anInputSplitThroughAQuantBlockIsRefused() {
        // 8 ways over a 2048-wide down projection in Q4_K: 256 per device is one block (fine); 16 KV heads model
        ShardingPlan p = new ShardingPlan(8, 16, 8, 128, 1024, 2048);
        p.shard("blk.0.ffn_down.weight", TensorType.Q4_K, 1024, 2048, 7);
        // o projection input = heads * headDim = 1024 cols: 128 per device, half a Q4_K block
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> p.shard("blk.0.attn_output.weight", TensorType.Q4_K, 1024, 1024, 0));
        assertEquals("blk.0.attn_output.weight: Q4_K blocks of 256 cannot split 1024 input columns 8 ways (128 per device)",
                e.getMessage());
    }

    @Test
    void sourceRangesOfAnInputSplitAreOneSliceOfEachRow() {
        // Q8_0: 34 bytes per 32 values. 3 rows x 128 cols -> 136 bytes per row; 2 ways -> 68 bytes per row each.
        Shard s = new Shard(0, 3, 64, 64);
        assertArrayEquals(new long[] {68, 68, 136 + 68, 68, 272 + 68, 68}, ShardingPlan.sourceRanges(s, TensorType.Q8_0, 136));
        // an output split is one contiguous range of whole rows
        assertArrayEquals(new long[] {2 * 136, 2 * 136}, ShardingPlan.sourceRanges(new Shard(2, 2, 0, 128), TensorType.Q8_0, 136));
    }

    @Test
    void combiningShardedProductsGivesTheUnshardedProduct() {
        // W [rows x cols] in f32, x [batch x cols]: compute the full product, then per-device products of the
        // shards as a GPU would, combine, compare.
        int rows = 8, cols = 12, batch = 3, tp = 2;
        Random rnd = new Random(7);
        float[] w = new float[rows * cols];
        float[] x = new float[batch * cols];
        for (int i = 0; i < w.length; i++) w[i] = rnd.nextFloat() - 0.5f;
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextFloat() - 0.5f;
        float[] full = product(w, rows, cols, x, batch, new Shard(0, rows, 0, cols));
        ShardingPlan p = new ShardingPlan(tp, 2, 2, 2, cols, 2);
        for (String name : new String[] {"blk.0.attn_q.weight", "blk.0.ffn_down.weight"}) {
            float[][] partial = new float[tp][];
            for (int d = 0; d < tp; d++) {
                partial[d] = product(w, rows, cols, x, batch, p.shard(name, TensorType.F32, rows, cols, d));
            }
            float[] out = new float[batch * rows];
            combine(ShardingPlan.splitOf(name), partial, out, batch, rows);
            assertArrayEquals(full, out, 1e-5f, name);
        }
    }

    /** out[b][r'] over the shard's rows r' and its columns only (a partial sum for an input split). */
    private static float[] product(float[] w, int rows, int cols, float[] x, int batch, Shard s) {
        float[] out = new float[batch * (int) s.rowCount()];
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < s.rowCount(); r++) {
                float acc = 0;
                for (int c = s.colStart(); c < s.colStart() + s.colCount(); c++) {
                    acc += w[(int) (s.rowStart() + r) * cols + c] * x[b * cols + c];
                }
                out[b * (int) s.rowCount() + r] = acc;
            }
        }
        return out;
    }

    /**
     * What the device computes from per-rank outputs of one product, on the host: an output split concatenates
     * each rank's [batch x rows/tp] block into its columns; an input split sums the partials (the all-reduce);
     * a replicated weight takes rank 0's.
     */
    static void combine(Split split, float[][] partial, float[] out, int batch, int rows) {
        int tp = partial.length;
        switch (split) {
            case REPLICATED -> System.arraycopy(partial[0], 0, out, 0, batch * rows);
            case OUTPUT -> {
                int per = rows / tp;
                for (int d = 0; d < tp; d++) {
                    for (int b = 0; b < batch; b++) {
                        System.arraycopy(partial[d], b * per, out, b * rows + d * per, per);
                    }
                }
            }
            case INPUT -> {
                int n = batch * rows;
                System.arraycopy(partial[0], 0, out, 0, n);
                for (int d = 1; d < tp; d++) {
                    float[] p = partial[d];
                    for (int i = 0; i < n; i++) {
                        out[i] += p[i];
                    }
                }
            }
        }
    }
}
