package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.Matmul.Path;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which kernel a product runs, and how a quantized weight is cut for the bf16 scratch. */
@Tag("unit")
class MatmulTest {

    @Test
    void decodeUsesMatvecAndPrefillUsesCublas() {
        assertEquals(Path.MATVEC_BF16, Matmul.path(TensorType.BF16, 3584, 1, true));
        assertEquals(Path.MATVEC, Matmul.path(TensorType.BF16, 3581, 1, true), "the 16-byte loads need cols % 8 == 0");
        assertEquals(Path.MATVEC, Matmul.path(TensorType.Q4_K, 640, 16, true));
        assertEquals(Path.GEMM, Matmul.path(TensorType.BF16, 3584, 17, true));
        assertEquals(Path.GEMM, Matmul.path(TensorType.F32, 64, 512, true));
        assertEquals(Path.GEMM_DEQUANT, Matmul.path(TensorType.Q5_0, 640, 512, true));
        assertEquals(Path.MATVEC, Matmul.path(TensorType.Q5_0, 640, 512, false), "no cuBLAS: matvec for everything");
    }

    @Test
    void dequantChunksFitTheScratch() {
        // 64 MiB of bf16 scratch, 14336 columns: 2340 rows of 28 KiB
        assertEquals(2340, Matmul.chunkRows(14336, DeviceMemoryPlan.DEQUANT_SCRATCH_BYTES, 1 << 20));
        assertEquals(256, Matmul.chunkRows(640, DeviceMemoryPlan.DEQUANT_SCRATCH_BYTES, 256), "never more than the rows");
        assertEquals(1, Matmul.chunkRows(1 << 20, 1024, 10), "at least one row");
    }
}
