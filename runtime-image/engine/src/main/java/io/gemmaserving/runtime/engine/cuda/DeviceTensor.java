package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.tensor.TensorType;

/**
 * A weight (shard) in device memory, in its stored format: {@code rows} rows of {@code cols} elements, each row
 * {@code rowBytes} long (quantized blocks stay quantized), row-major from {@code ptr}.
 */
public record DeviceTensor(String name, long ptr, TensorType type, long rows, int cols) {

    public long rowBytes() {
        return type.bytesFor(cols);
    }

    public long bytes() {
        return rows * rowBytes();
    }
}
