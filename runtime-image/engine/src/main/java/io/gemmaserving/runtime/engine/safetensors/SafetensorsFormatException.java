package io.gemmaserving.runtime.engine.safetensors;

/** A safetensors file or directory that cannot be read; the message is one line naming the file and the fault. */
public class SafetensorsFormatException extends RuntimeException {

    public SafetensorsFormatException(String message) {
        super(message);
    }
}
