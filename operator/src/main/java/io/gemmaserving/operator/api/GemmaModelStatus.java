package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.model.annotation.LabelSelector;
import io.fabric8.kubernetes.model.annotation.StatusReplicas;
import java.util.ArrayList;
import java.util.List;

/** What the operator derived and observed. Written only through the status subresource. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class GemmaModelStatus {

    @JsonPropertyDescription("The metadata.generation this status describes.")
    public Long observedGeneration;

    @JsonPropertyDescription("Ready, Progressing, Degraded, RuntimeResolved, WeightsAvailable (metav1.Condition shape).")
    public List<Condition> conditions = new ArrayList<>();

    @StatusReplicas
    @JsonPropertyDescription("Pods of the Deployment.")
    public Integer replicas;

    @JsonPropertyDescription("Pods that pass their readiness probe (weights loaded).")
    public Integer readyReplicas;

    @LabelSelector
    @JsonPropertyDescription("Label selector of the pods, for the scale subresource.")
    public String selector;

    @JsonPropertyDescription("The ServingRuntime used, or builtin-cpu / builtin-cuda for the operator's default.")
    public String runtime;

    @JsonPropertyDescription("The image the runtime container runs.")
    public String runtimeImage;

    @JsonPropertyDescription("GPUs per pod the model is split across (1 on CPU).")
    public Integer tensorParallelSize;

    @JsonPropertyDescription("Resources the runtime container got.")
    public ResourceRequirements resources;

    @JsonPropertyDescription("Estimated memory per device (GPU) or per pod (CPU): weights + KV cache + overhead.")
    public String memoryEstimate;

    @JsonPropertyDescription("In-cluster base URL of the OpenAI-compatible API.")
    public String endpoint;

    @JsonPropertyDescription("External URL (OpenShift Route), when one exists.")
    public String url;
}
