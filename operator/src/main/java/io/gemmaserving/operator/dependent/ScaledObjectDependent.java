package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.GroupVersionKind;
import io.javaoperatorsdk.operator.processing.dependent.Creator;
import io.javaoperatorsdk.operator.processing.dependent.Updater;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.GenericKubernetesDependentResource;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * KEDA ScaledObject on the Deployment with a Prometheus trigger on the summed waiting requests of the model's pods
 * (threshold = target per pod, so KEDA's AverageValue gives pods = waiting / target). Only when KEDA's API exists.
 */
public class ScaledObjectDependent extends GenericKubernetesDependentResource<GemmaModel>
        implements Creator<GenericKubernetesResource, GemmaModel>, Updater<GenericKubernetesResource, GemmaModel>,
        GarbageCollected<GemmaModel> {

    public static final GroupVersionKind GVK = new GroupVersionKind("keda.sh", "v1alpha1", "ScaledObject");

    public ScaledObjectDependent() {
        super(GVK);
    }

    @Override
    protected GenericKubernetesResource desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static String query(ModelPlan p) {
        return "sum(" + p.runtime.waitingRequestsMetric() + "{namespace=\"" + p.namespace + "\",service=\"" + p.name + "\"})";
    }

    public static GenericKubernetesResource build(ModelPlan p) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("scaleTargetRef", Map.of("apiVersion", "apps/v1", "kind", "Deployment", "name", p.name));
        spec.put("minReplicaCount", p.minReplicas);
        spec.put("maxReplicaCount", p.maxReplicas);
        spec.put("pollingInterval", 15);
        spec.put("cooldownPeriod", p.scaleDownStabilizationSeconds);
        spec.put("advanced", Map.of("horizontalPodAutoscalerConfig", Map.of("behavior",
                Map.of("scaleDown", Map.of("stabilizationWindowSeconds", p.scaleDownStabilizationSeconds)))));
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("serverAddress", p.prometheusAddress);
        metadata.put("query", query(p));
        metadata.put("threshold", Integer.toString(p.targetQueueDepth));
        spec.put("triggers", List.of(Map.of("type", "prometheus", "metadata", metadata)));
        return new GenericKubernetesResourceBuilder().withApiVersion(GVK.apiVersion()).withKind(GVK.getKind())
                .withMetadata(Plans.meta(p, p.name)).withAdditionalProperties(Map.of("spec", spec)).build();
    }
}
