package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Quantity;
import io.gemmaserving.operator.sizing.Sizing;

/** The device, and how the model is split across GPUs. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.tensorParallelSize) || (has(self.type) && self.type == 'nvidia.com/gpu')",
        message = "tensorParallelSize needs type nvidia.com/gpu", fieldPath = ".tensorParallelSize")
@ValidationRule(value = "!has(self.tensorParallelSize) || self.tensorParallelSize in " + Sizing.TENSOR_PARALLEL_SIZES,
        message = "tensorParallelSize must be a power of two, one of " + Sizing.TENSOR_PARALLEL_SIZES,
        fieldPath = ".tensorParallelSize")
@ValidationRule(value = "!(has(self.product) || has(self.memory)) || (has(self.type) && self.type == 'nvidia.com/gpu')",
        message = "product and memory describe a GPU: set type nvidia.com/gpu", fieldPath = ".type")
public class Accelerator {

    @JsonPropertyDescription("cpu (default) or nvidia.com/gpu.")
    public AcceleratorType type;

    @JsonPropertyDescription("GPU product as NVIDIA's GPU feature discovery labels it (nvidia.com/gpu.product), e.g."
            + " NVIDIA-H100-80GB-HBM3; the pods are scheduled on nodes with that label, and its memory sizes the model.")
    @Pattern(Grammar.LABEL_VALUE)
    @Size(max = 63)
    public String product;

    @JsonPropertyDescription("Memory of one GPU (e.g. 40Gi), when the product is absent or not in the operator's table.")
    public Quantity memory;

    @Min(1)
    @Max(Sizing.MAX_TENSOR_PARALLEL)
    @JsonPropertyDescription("GPUs the model is split across in one pod (a power of two that divides the attention and KV"
            + " heads). Absent: the smallest that fits, computed by the operator and shown in status.tensorParallelSize.")
    public Integer tensorParallelSize;

    @Min(0.1)
    @Max(0.99)
    @JsonPropertyDescription("Fraction of each GPU's memory the runtime may use (default 0.9).")
    public Double memoryUtilization;
}
