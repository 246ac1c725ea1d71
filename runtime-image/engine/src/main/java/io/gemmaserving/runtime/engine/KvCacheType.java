package io.gemmaserving.runtime.engine;

/**
 * How the engines store keys and values, the CPU's on the heap and the CUDA engine's on the device: {@link #F16}
 * (the default, as llama.cpp's and vLLM's for 16-bit models: half the memory and half the bytes attention reads per
 * position; the operator sizes pods at 2 bytes per value) or {@link #F32} (the activations' own precision, for
 * fidelity tests against a float32 reference).
 */
public enum KvCacheType {
    F16(2), F32(4);

    private final int bytes;

    KvCacheType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes one stored value takes. */
    public int bytesPerValue() {
        return bytes;
    }

    /** {@code f16} or {@code f32} (either case); one clear line otherwise. */
    public static KvCacheType parse(String s) {
        for (KvCacheType t : values()) {
            if (t.name().equalsIgnoreCase(s == null ? "" : s.trim())) {
                return t;
            }
        }
        throw new IllegalArgumentException("KV cache type must be f16 or f32, got '" + s + "'");
    }
}
