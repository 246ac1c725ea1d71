package io.gemmaserving.runtime.engine;

/**
 * How the CPU engine stores keys and values: {@link #F16} (the default, as llama.cpp's: half the memory and half
 * the bytes attention reads per position) or {@link #F32} (the activations' own precision, for fidelity tests
 * against a float32 reference).
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
