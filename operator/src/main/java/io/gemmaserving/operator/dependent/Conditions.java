package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;

/** The workflow's conditions: which children exist, and when the Deployment counts as ready. */
public final class Conditions {

    private Conditions() {
    }

    /**
     * No blocking problem (runtime found, model fits, file known); or the named runtime is missing, where the
     * dependents keep what exists untouched (their reconcile does nothing) instead of the workflow deleting it.
     */
    public static class Deployable implements Condition<Object, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            return Plans.of(primary, context).keepsChildren();
        }
    }

    /** Every desired replica of the current template is updated and ready. */
    public static class DeploymentReady implements Condition<Deployment, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Deployment, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            return dr.getSecondaryResource(primary, context).map(DeploymentReady::ready).orElse(false);
        }

        public static boolean ready(Deployment d) {
            if (d.getStatus() == null || d.getSpec() == null) {
                return false;
            }
            int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
            var s = d.getStatus();
            return s.getObservedGeneration() != null && s.getObservedGeneration() >= d.getMetadata().getGeneration()
                    && nz(s.getUpdatedReplicas()) >= want && nz(s.getReadyReplicas()) >= want;
        }

        static int nz(Integer i) {
            return i == null ? 0 : i;
        }
    }

    /** Autoscaling with the HPA: mode HPA, or mode KEDA where KEDA is not installed (the status says so). */
    public static class UsesHpa implements Condition<Object, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            ModelPlan p = Plans.of(primary, context);
            return p.keepsChildren() && p.autoscaling != null && (!p.keda || !p.apis.keda());
        }
    }

    public static class UsesKeda implements Condition<Object, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            ModelPlan p = Plans.of(primary, context);
            return p.keepsChildren() && p.autoscaling != null && p.keda;
        }
    }

    /** A PodDisruptionBudget only protects something when there can be more than one pod. */
    public static class MultiplePods implements Condition<Object, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            ModelPlan p = Plans.of(primary, context);
            return p.keepsChildren() && p.maxPods() > 1;
        }
    }

    /*
     * Activation conditions: the dependent and its informer exist only while its optional API is served. What API
     * discovery said is in the plan (ModelPlan#apis), asked once per reconcile.
     */

    public static class KedaPresent implements Condition<Object, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            return Plans.of(primary, context).apis.keda();
        }
    }

    public static class RoutePresent implements Condition<Object, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            return Plans.of(primary, context).apis.routes();
        }
    }

    public static class ServiceMonitorPresent implements Condition<Object, GemmaModel> {
        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            return Plans.of(primary, context).apis.serviceMonitors();
        }
    }
}
