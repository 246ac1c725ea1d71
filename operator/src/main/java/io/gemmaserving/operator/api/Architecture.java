package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** The numbers sizing needs from config.json, for a model outside the catalog. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Architecture {
    @Min(1)
    @JsonPropertyDescription("Number of parameters (weights size = parameters x bytes per parameter of the quantization).")
    public Long parameters;

    @Required
    @Min(1)
    @JsonPropertyDescription("Transformer layers (num_hidden_layers).")
    public Integer layers;

    @Required
    @Min(1)
    @JsonPropertyDescription("Attention (query) heads (num_attention_heads); the tensor-parallel size must divide it.")
    public Integer attentionHeads;

    @Required
    @Min(1)
    @JsonPropertyDescription("Key/value heads (num_key_value_heads); the tensor-parallel size must divide it.")
    public Integer kvHeads;

    @Required
    @Min(1)
    @JsonPropertyDescription("Dimension of one head (head_dim).")
    public Integer headDim;

    @Min(0)
    @JsonPropertyDescription("Sliding attention window of the local layers in tokens (0 or absent: every layer is global).")
    public Integer slidingWindow;

    @Min(0)
    @JsonPropertyDescription("Local (sliding-window) layers per global layer: 1 for Gemma 2, 5 for Gemma 3.")
    public Integer localLayersPerGlobal;
}
