package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.gemmaserving.operator.api.GemmaModel;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.ReconcileResult;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.event.ResourceID;

/**
 * A child built from the model's runtime (Deployment, HPA, ScaledObject, PodDisruptionBudget). It is found by the
 * model's name rather than from desired(), which cannot be built while a named runtime is missing, and while that
 * runtime is missing it stays exactly as it is: not updated, not deleted (see ModelPlan#runtimeMissing). A
 * reconcilePrecondition would not do: one that turns false deletes the child.
 */
public abstract class RuntimeHeldDependent<R extends HasMetadata> extends CRUDKubernetesDependentResource<R, GemmaModel> {

    protected RuntimeHeldDependent(Class<R> type) {
        super(type);
    }

    @Override
    protected ResourceID targetSecondaryResourceID(GemmaModel primary, Context<GemmaModel> context) {
        return ResourceID.fromResource(primary);
    }

    @Override
    protected ReconcileResult<R> reconcile(GemmaModel primary, R actual, Context<GemmaModel> context) {
        return Plans.of(primary, context).runtimeMissing() ? ReconcileResult.noOperation(actual)
                : super.reconcile(primary, actual, context);
    }
}
