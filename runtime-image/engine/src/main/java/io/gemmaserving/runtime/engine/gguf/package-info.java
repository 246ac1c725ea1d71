/**
 * GGUF files, memory-mapped: {@link io.gemmaserving.runtime.engine.gguf.GgufFile#open} parses the header
 * (versions 2 and 3), every metadata value type and the tensor infos, and maps the data without copying it;
 * {@link io.gemmaserving.runtime.engine.gguf.GgufFile#tensor} gives a
 * {@link io.gemmaserving.runtime.engine.tensor.WeightTensor} over the mapping. Malformed files fail with a
 * {@link io.gemmaserving.runtime.engine.gguf.GgufFormatException} whose message is one line naming the file.
 */
package io.gemmaserving.runtime.engine.gguf;
