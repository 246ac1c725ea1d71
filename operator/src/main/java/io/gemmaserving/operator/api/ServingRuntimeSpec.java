package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import java.util.List;

/** A runtime image and its defaults. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ServingRuntimeSpec {

    @Required
    @Size(min = 1, max = 1024)
    @Pattern("^" + Grammar.IMAGE_REFERENCE + "$")
    @JsonPropertyDescription("Container image of the runtime (the gemma-server CLI is its entry point):"
            + " [registry[:port]/]repository[:tag][@digest].")
    public String image;

    @JsonPropertyDescription("Model formats this runtime loads, each once; a GemmaModel without a runtime name picks a"
            + " runtime by these.")
    @Size(max = 8)
    public List<SupportedFormat> supportedModelFormats;

    @JsonPropertyDescription("Accelerators this runtime supports (default: cpu only).")
    public List<AcceleratorType> acceleratorTypes;

    @JsonPropertyDescription("Extra gemma-server options appended after the ones the operator derives, e.g. --threads=4.")
    @Size(max = 32)
    @ValidationRule(value = "self.all(a, !(a.startsWith('--model') || a.startsWith('--port')"
            + " || a.startsWith('--tensor-parallel-size') || a.startsWith('--max-context-length')"
            + " || a.startsWith('--max-concurrent-sequences') || a.startsWith('--served-model-name')"
            + " || a.startsWith('--api-key-file') || a.startsWith('--backend')))",
            message = "args may not set options the operator derives (--model, --port, --tensor-parallel-size,"
                    + " --max-context-length, --max-concurrent-sequences, --served-model-name, --api-key-file, --backend)")
    public List<@Size(max = 256) String> args;

    @JsonPropertyDescription("Environment of the runtime container, each name once (a GemmaModel's env wins on a name clash).")
    @Size(max = 128)
    public List<EnvVar> env;

    @JsonPropertyDescription("Default resources of the runtime container, merged under the operator's derived ones.")
    public ResourceRequirements resources;

    @Min(1024)
    @Max(65535)
    @JsonPropertyDescription("Container port of the HTTP API (default 8080).")
    public Integer port;

    @Pattern("^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    @JsonPropertyDescription("Prometheus gauge of waiting requests the autoscalers use (default gemma_requests_waiting).")
    public String waitingRequestsMetric;

    @Min(1)
    @JsonPropertyDescription("UID every container of the pod runs as, the modelcar sidecar included (it must match for"
            + " /proc/<pid>/root access). Absent: the operator's default; on OpenShift leave it to the SCC.")
    public Long runAsUser;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class SupportedFormat {
        @Required
        @JsonPropertyDescription("gguf or safetensors.")
        public ModelFormat name;

        @JsonPropertyDescription("Whether a GemmaModel that names no runtime may be given this one (default true).")
        public Boolean autoSelect;

        @Min(0)
        @JsonPropertyDescription("Higher wins when several runtimes match (default 0).")
        public Integer priority;
    }
}
