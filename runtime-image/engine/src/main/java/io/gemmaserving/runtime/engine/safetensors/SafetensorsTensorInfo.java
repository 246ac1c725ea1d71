package io.gemmaserving.runtime.engine.safetensors;

/**
 * One tensor of a safetensors header.
 *
 * @param name  e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param dtype as the header spells it: {@code BF16}, {@code F16}, {@code F32}, ...
 * @param shape dimensions, outermost first (PyTorch order: [out_features, in_features])
 * @param begin first byte, relative to the start of the data section
 * @param end   one past the last byte
 */
public record SafetensorsTensorInfo(String name, String dtype, long[] shape, long begin, long end) {

    /** Last dimension (1 for a scalar). */
    public long cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Product of the other dimensions: a 1-D tensor is one row. */
    public long rows() {
        long r = 1;
        for (int i = 0; i < shape.length - 1; i++) {
            r *= shape[i];
        }
        return r;
    }
}
