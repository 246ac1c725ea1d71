package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/** At most one pod of a multi-replica model evicted at a time (a drain never takes the whole model down). */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class PodDisruptionBudgetDependent extends RuntimeHeldDependent<PodDisruptionBudget> {

    public PodDisruptionBudgetDependent() {
        super(PodDisruptionBudget.class);
    }

    @Override
    protected PodDisruptionBudget desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static PodDisruptionBudget build(ModelPlan p) {
        return new PodDisruptionBudgetBuilder().withMetadata(Plans.meta(p, p.name))
                .withNewSpec().withMaxUnavailable(new IntOrString(1))
                .withNewSelector().withMatchLabels(p.selectorLabels()).endSelector()
                .endSpec().build();
    }
}
