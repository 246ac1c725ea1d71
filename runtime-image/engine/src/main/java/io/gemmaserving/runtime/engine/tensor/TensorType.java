package io.gemmaserving.runtime.engine.tensor;

/**
 * Storage formats, with GGML's type ids (the numbers GGUF files carry), the block size in elements and the
 * bytes per block. Values follow ggml.h / ggml-common.h.
 */
public enum TensorType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ3_S(21, 256, 110),
    IQ4_NL(20, 32, 18),
    BF16(30, 1, 2);

    public final int ggmlId;
    public final int blockSize;
    public final int bytesPerBlock;

    TensorType(int ggmlId, int blockSize, int bytesPerBlock) {
        this.ggmlId = ggmlId;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
    }

    /** Bytes that {@code elements} values take; {@code elements} must be a whole number of blocks. */
    public long bytesFor(long elements) {
        return elements / blockSize * bytesPerBlock;
    }

    /** The type with GGML id {@code id}, or null when we do not know it. */
    public static TensorType fromGgmlId(int id) {
        for (TensorType t : values()) {
            if (t.ggmlId == id) {
                return t;
            }
        }
        return null;
    }
}
