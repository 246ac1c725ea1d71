package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.model.annotation.SpecReplicas;
import java.util.List;
import java.util.Map;

/**
 * GemmaModel.spec: only what the user says. Every default the operator derives (runtime, tensor-parallel size,
 * resources) goes to status, never back here, so GitOps tools see no drift.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!(has(self.replicas) && has(self.autoscaling))",
        message = "set either replicas or autoscaling, not both", fieldPath = ".replicas")
public class GemmaModelSpec {

    @Required
    @JsonPropertyDescription("Where the weights come from, in which format, and which Gemma variant they are.")
    public ModelSource source;

    @JsonPropertyDescription("Name of a ServingRuntime in this namespace. When absent, the best-matching ServingRuntime for the"
            + " model's format and accelerator is used, else the operator's built-in runtime.")
    @Pattern(Grammar.DNS1123_SUBDOMAIN)
    @Size(max = 253)
    public String runtime;

    @JsonPropertyDescription("The device the model runs on and how it is split across GPUs. Default: CPU.")
    public Accelerator accelerator;

    @SpecReplicas
    @Min(0)
    @JsonPropertyDescription("Fixed number of serving pods (default 1). Mutually exclusive with autoscaling.")
    public Integer replicas;

    @JsonPropertyDescription("Scale the pods on queue depth (waiting requests per pod) instead of a fixed replica count.")
    public Autoscaling autoscaling;

    @JsonPropertyDescription("Serving limits: context length, concurrency, weight precision, API key.")
    public Serving serving;

    @JsonPropertyDescription("Resources for the runtime container, merged over what the operator derives (a key set here wins).")
    public ResourceRequirements resources;

    @JsonPropertyDescription("Extra tolerations for the pods; the GPU toleration is added by the operator.")
    public List<Toleration> tolerations;

    @JsonPropertyDescription("Extra node selector labels, merged over the GPU product selector the operator derives.")
    public Map<String, String> nodeSelector;

    @JsonPropertyDescription("Affinity for the pods, passed through.")
    public Affinity affinity;

    @JsonPropertyDescription("PriorityClass of the pods, passed through.")
    @Pattern(Grammar.DNS1123_SUBDOMAIN)
    @Size(max = 253)
    public String priorityClassName;

    @JsonPropertyDescription("Extra environment variables of the runtime container, each name once, merged over the"
            + " ServingRuntime's (a name set here wins).")
    @Size(max = 128)
    public List<EnvVar> env;
}
