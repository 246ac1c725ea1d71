package io.gemmaserving.runtime.engine;

import io.gemmaserving.runtime.engine.model.Architecture;

/**
 * Facts about a loaded model that callers outside the engine need.
 *
 * @param name             model name (file or directory name, or general.name)
 * @param architecture     the Gemma generation
 * @param contextLength    the model's trained context length
 * @param vocabSize        rows of the output head
 * @param kvBytesPerToken  KV-cache bytes one position costs over all layers, counting sliding-window layers fully
 *                         (their cap is applied by {@link Engine#newKvCache})
 * @param weightBytes      bytes of the weights as stored
 */
public record ModelInfo(String name, Architecture architecture, int contextLength, int vocabSize,
                        long kvBytesPerToken, long weightBytes) {
}
