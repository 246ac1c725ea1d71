package io.gemmaserving.runtime.engine.sampling;

/**
 * A sampling parameter out of range. {@link #parameter()} is the OpenAI API's name of the field (e.g.
 * {@code top_p}), so the server can answer HTTP 400 with {@code param} set; the message is one line.
 */
public class InvalidSamplingParameterException extends IllegalArgumentException {

    private final String parameter;

    public InvalidSamplingParameterException(String parameter, String message) {
        super(message);
        this.parameter = parameter;
    }

    /** The request field at fault, as the OpenAI API spells it. */
    public String parameter() {
        return parameter;
    }
}
