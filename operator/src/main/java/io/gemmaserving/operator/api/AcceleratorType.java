package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonProperty;

/** Where the forward pass runs. */
public enum AcceleratorType {
    @JsonProperty("cpu") CPU("cpu"),
    @JsonProperty("nvidia.com/gpu") NVIDIA_GPU("nvidia.com/gpu");

    public final String value;

    AcceleratorType(String value) {
        this.value = value;
    }
}
