package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.ReconcileResult;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/**
 * autoscaling/v2 HPA on the Deployment, on the Pods metric of waiting requests (the runtime's gauge, default
 * gemma_requests_waiting, as a Prometheus adapter serves it through custom.metrics.k8s.io), averaged per pod.
 */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class HorizontalPodAutoscalerDependent extends CRUDKubernetesDependentResource<HorizontalPodAutoscaler, GemmaModel> {

    public HorizontalPodAutoscalerDependent() {
        super(HorizontalPodAutoscaler.class);
    }

    /** Found by name (the model's) rather than from desired(), which cannot be built while the runtime is missing. */
    @Override
    protected ResourceID targetSecondaryResourceID(GemmaModel primary, Context<GemmaModel> context) {
        return ResourceID.fromResource(primary);
    }

    /** While the model's runtime is missing, the HPA stays as it is (see ModelPlan#runtimeMissing). */
    @Override
    protected ReconcileResult<HorizontalPodAutoscaler> reconcile(GemmaModel primary, HorizontalPodAutoscaler actual,
                                                                 Context<GemmaModel> context) {
        return Plans.of(primary, context).runtimeMissing() ? ReconcileResult.noOperation(actual)
                : super.reconcile(primary, actual, context);
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
