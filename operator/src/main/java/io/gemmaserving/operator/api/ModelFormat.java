package io.gemmaserving.operator.api;

/** How the weights are stored. */
public enum ModelFormat {
    /** One GGUF file (quantized or not); the runtime needs the file's path. */
    gguf,
    /** A Hugging Face directory: config.json, tokenizer.json, *.safetensors. */
    safetensors
}
