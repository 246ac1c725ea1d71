package io.gemmaserving.operator.plan;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import java.util.List;

/** The runtime a model is served with: a ServingRuntime's spec, or the operator's built-in default. */
public record ResolvedRuntime(String name, boolean builtin, String image, List<String> extraArgs, List<EnvVar> env,
                              ResourceRequirements resources, int port, String waitingRequestsMetric, Long runAsUser) {

    public static final int DEFAULT_PORT = 8080;
    /** The runtime's Prometheus gauge of requests waiting for a sequence slot: the autoscaling signal. */
    public static final String DEFAULT_WAITING_METRIC = "gemma_requests_waiting";
}
