/**
 * Hugging Face safetensors, memory-mapped: {@link io.gemmaserving.runtime.engine.safetensors.SafetensorsFile} for
 * one file, {@link io.gemmaserving.runtime.engine.safetensors.SafetensorsDirectory} for a checkpoint directory
 * (sharded, with or without {@code model.safetensors.index.json}). BF16, F16 and F32 tensors become
 * {@link io.gemmaserving.runtime.engine.tensor.WeightTensor}s: 2-D as [rows, cols], 1-D as 1 x n.
 */
package io.gemmaserving.runtime.engine.safetensors;
