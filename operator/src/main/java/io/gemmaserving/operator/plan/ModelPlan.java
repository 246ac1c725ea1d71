package io.gemmaserving.operator.plan;

import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.gemmaserving.operator.api.Autoscaling;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.ModelFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything the operator derives from one GemmaModel (and the namespace's ServingRuntimes), computed once per
 * reconcile by {@link ModelPlanner}. The child builders read only this; status is written from it.
 */
public final class ModelPlan {

    /** Label every child and pod carries; the pods' selector. */
    public static final String MODEL_LABEL = "serving.gemma.io/model";
    public static final String MODEL_MOUNT = "/mnt/models";
    public static final String API_KEY_DIR = "/var/run/secrets/gemma";

    public enum Weights { OCI_SIDECAR, OCI_IMAGE_VOLUME, PVC }

    /**
     * A problem the user can act on, in one line; blocking ones keep the Deployment from being created.
     *
     * @param reason  the Degraded condition's reason (CamelCase)
     * @param message what is wrong and what to change
     */
    public record Issue(String reason, String message, boolean blocking) {
    }

    /** Which optional APIs the cluster serves (by API discovery): the optional children exist only where theirs does. */
    public record OptionalApis(boolean keda, boolean routes, boolean serviceMonitors) {
        public static final OptionalApis NONE = new OptionalApis(false, false, false);
    }

    public GemmaModel model;
    public String name;
    public String namespace;

    public RuntimeResolver.Resolution resolution;
    public ResolvedRuntime runtime;

    public ModelFormat format;
    public Weights weights;
    /** The modelcar image (oci://) without its scheme. */
    public String image;
    /** pvc:// claim and the directory inside it mounted at /mnt/models (null: the claim's root). */
    public String claim;
    public String claimSubPath;
    /** What --model points at: the directory /mnt/models or a file inside it. */
    public String modelPath;

    public boolean gpu;
    public String gpuProduct;
    public int tensorParallelSize = 1;
    public int contextLength;
    public int sequences;
    public ResourceRequirements resources;
    public String memoryEstimate;
    public String sizingMessage;

    /** Fixed replicas, or null when an autoscaler owns the Deployment's replica count. */
    public Integer replicas;
    public Autoscaling autoscaling;
    public int minReplicas;
    public int maxReplicas;
    public int targetQueueDepth;
    public int scaleDownStabilizationSeconds;
    public String prometheusAddress;
    public boolean keda;

    public String apiKeySecret;
    public String apiKeySecretKey;

    public String endpoint;
    public OptionalApis apis = OptionalApis.NONE;
    public final List<Issue> issues = new ArrayList<>();
    public final List<String> warnings = new ArrayList<>();

    public boolean deployable() {
        return issues.stream().noneMatch(Issue::blocking);
    }

    /**
     * The ServingRuntime the model names does not exist (deleted, or not yet re-created). Nothing can be built without
     * it, but tearing down serving pods for that would surprise an administrator: the children that exist are kept as
     * they are, neither updated nor deleted, until the runtime is back.
     */
    public boolean runtimeMissing() {
        return resolution != null && RuntimeResolver.NOT_FOUND.equals(resolution.reason());
    }

    /** The workflow keeps the children: it reconciles them when deployable, leaves them be when the runtime is missing. */
    public boolean keepsChildren() {
        return deployable() || runtimeMissing();
    }

    /** Most pods this model can run: what makes a PodDisruptionBudget worth having. */
    public int maxPods() {
        return replicas != null ? replicas : maxReplicas;
    }

    public Map<String, String> selectorLabels() {
        return Map.of(MODEL_LABEL, name);
    }

    public String selector() {
        return MODEL_LABEL + "=" + name;
    }

    public Map<String, String> labels() {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("app.kubernetes.io/name", "gemma-model");
        labels.put("app.kubernetes.io/instance", name);
        labels.put("app.kubernetes.io/managed-by", "gemma-operator");
        labels.put("app.kubernetes.io/component", "inference");
        labels.put(MODEL_LABEL, name);
        return labels;
    }
}
