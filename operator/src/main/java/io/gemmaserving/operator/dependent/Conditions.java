package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

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
            return p.keepsChildren() && p.autoscaling != null && (!p.keda || !ApiPresent.keda(context));
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

    /**
     * Whether an optional API (KEDA, OpenShift routes, Prometheus Operator) is served, by API discovery; remembered
     * for ten seconds so discovery is not asked on every reconcile. Activation conditions: the dependent and its informer
     * exist only while the API does.
     */
    public abstract static class ApiPresent implements Condition<Object, GemmaModel> {
        private static final Map<String, long[]> SEEN = new ConcurrentHashMap<>();
        private static final long TTL_MS = 10_000;

        private final String apiVersion;
        private final String kind;

        protected ApiPresent(String apiVersion, String kind) {
            this.apiVersion = apiVersion;
            this.kind = kind;
        }

        @Override
        public boolean isMet(DependentResource<Object, GemmaModel> dr, GemmaModel primary, Context<GemmaModel> context) {
            return present(context, apiVersion, kind);
        }

        static boolean present(Context<GemmaModel> context, String apiVersion, String kind) {
            String key = context.getClient().getMasterUrl() + " " + apiVersion + "/" + kind;
            long now = System.currentTimeMillis();
            long[] seen = SEEN.get(key);
            if (seen != null && now - seen[0] < TTL_MS) {
                return seen[1] == 1;
            }
            boolean present;
            try {
                present = context.getClient().supports(apiVersion, kind);
            } catch (RuntimeException e) {
                present = false;
            }
            SEEN.put(key, new long[] {now, present ? 1 : 0});
            return present;
        }

        /** Forgets what discovery said (for tests that install or remove an API). */
        public static void forget() {
            SEEN.clear();
        }

        static boolean keda(Context<GemmaModel> context) {
            return present(context, ScaledObjectDependent.GVK.apiVersion(), ScaledObjectDependent.GVK.getKind());
        }
    }

    public static class KedaPresent extends ApiPresent {
        public KedaPresent() {
            super(ScaledObjectDependent.GVK.apiVersion(), ScaledObjectDependent.GVK.getKind());
        }
    }

    public static class RoutePresent extends ApiPresent {
        public RoutePresent() {
            super(RouteDependent.GVK.apiVersion(), RouteDependent.GVK.getKind());
        }
    }

    public static class ServiceMonitorPresent extends ApiPresent {
        public ServiceMonitorPresent() {
            super(ServiceMonitorDependent.GVK.apiVersion(), ServiceMonitorDependent.GVK.getKind());
        }
    }
}
