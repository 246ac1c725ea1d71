package io.gemmaserving.operator.dependent;

import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * KEDA ScaledObject on the Deployment with a Prometheus trigger on the summed waiting requests of the model's pods
 * (threshold = target per pod, so KEDA's AverageValue gives pods = waiting / target). Only when KEDA's API exists.
 */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class ScaledObjectDependent extends RuntimeHeldDependent<OptionalKinds.ScaledObject> {

    public ScaledObjectDependent() {
        super(OptionalKinds.ScaledObject.class);
    }

    @Override
    protected OptionalKinds.ScaledObject desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static String query(ModelPlan p) {
        return "sum(" + p.runtime.waitingRequestsMetric() + "{namespace=\"" + p.namespace + "\",service=\"" + p.name + "\"})";
    }

    public static OptionalKinds.ScaledObject build(ModelPlan p) {
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
        return OptionalKinds.fill(new OptionalKinds.ScaledObject(), OptionalKinds.SCALED_OBJECT, Plans.meta(p, p.name), spec);
    }
}
