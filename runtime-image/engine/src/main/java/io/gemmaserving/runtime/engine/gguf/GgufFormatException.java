package io.gemmaserving.runtime.engine.gguf;

/**
 * A GGUF file that cannot be read: bad magic, unsupported version, truncation, an unknown tensor type, a count
 * out of range. The message is one line that names the file and what is wrong, e.g.
 * {@code model.gguf: tensor blk.3.ffn_down.weight has unknown type id 99}.
 */
public class GgufFormatException extends RuntimeException {

    public GgufFormatException(String message) {
        super(message);
    }
}
