package io.gemmaserving.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/** Scaling on queue depth: the runtime's waiting-requests gauge, per pod. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",
        message = "minReplicas must be less than or equal to maxReplicas", fieldPath = ".minReplicas")
@ValidationRule(value = "!has(self.minReplicas) || self.minReplicas >= 1 || (has(self.mode) && self.mode == 'KEDA')",
        message = "minReplicas 0 (scale to zero) needs mode KEDA", fieldPath = ".minReplicas")
public class Autoscaling {

    @Min(0)
    @JsonPropertyDescription("Fewest pods (default 1; 0 only with mode KEDA).")
    public Integer minReplicas;

    @Required
    @Min(1)
    @Max(1000)
    @JsonPropertyDescription("Most pods.")
    public Integer maxReplicas;

    @Min(1)
    @JsonPropertyDescription("Waiting requests per pod the autoscaler aims at (default 5).")
    public Integer targetQueueDepth;

    @JsonPropertyDescription("HPA (default: autoscaling/v2 on the Pods metric served by a Prometheus adapter) or KEDA (a"
            + " ScaledObject with a Prometheus trigger; needs KEDA installed).")
    public Mode mode;

    @Min(0)
    @Max(3600)
    @JsonPropertyDescription("Seconds the autoscaler waits before scaling down (default 300).")
    public Integer scaleDownStabilizationSeconds;

    @JsonPropertyDescription("Prometheus URL for the KEDA trigger (default: the operator's configuration).")
    public String prometheusAddress;

    public enum Mode { HPA, KEDA }
}
