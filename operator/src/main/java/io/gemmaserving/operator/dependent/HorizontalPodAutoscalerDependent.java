package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/**
 * autoscaling/v2 HPA on the Deployment, on the Pods metric of waiting requests (the runtime's gauge, default
 * gemma_requests_waiting, as a Prometheus adapter serves it through custom.metrics.k8s.io), averaged per pod.
 */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class HorizontalPodAutoscalerDependent extends RuntimeHeldDependent<HorizontalPodAutoscaler> {

    public HorizontalPodAutoscalerDependent() {
        super(HorizontalPodAutoscaler.class);
    }

    @Override
    protected HorizontalPodAutoscaler desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static HorizontalPodAutoscaler build(ModelPlan p) {
        return new HorizontalPodAutoscalerBuilder().withMetadata(Plans.meta(p, p.name))
                .withNewSpec()
                .withNewScaleTargetRef().withApiVersion("apps/v1").withKind("Deployment").withName(p.name).endScaleTargetRef()
                .withMinReplicas(Math.max(1, p.minReplicas)).withMaxReplicas(p.maxReplicas)
                .addNewMetric().withType("Pods").withNewPods()
                .withNewMetric().withName(p.runtime.waitingRequestsMetric()).endMetric()
                .withNewTarget().withType("AverageValue").withAverageValue(new Quantity(Integer.toString(p.targetQueueDepth)))
                .endTarget().endPods().endMetric()
                .withNewBehavior().withNewScaleDown().withStabilizationWindowSeconds(p.scaleDownStabilizationSeconds)
                .endScaleDown().endBehavior()
                .endSpec().build();
    }
}
