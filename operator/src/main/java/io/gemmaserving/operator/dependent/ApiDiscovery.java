package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.processing.GroupVersionKind;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which optional APIs (KEDA, OpenShift routes, Prometheus Operator) the cluster serves, by API discovery; remembered
 * for ten seconds so discovery is not asked on every reconcile, and so a periodic reconcile notices an API installed
 * after the model.
 */
public final class ApiDiscovery {

    private static final Map<String, long[]> SEEN = new ConcurrentHashMap<>();
    private static final long TTL_MS = 10_000;

    private ApiDiscovery() {
    }

    public static ModelPlan.OptionalApis of(KubernetesClient client) {
        return new ModelPlan.OptionalApis(present(client, OptionalKinds.SCALED_OBJECT),
                present(client, OptionalKinds.ROUTE), present(client, OptionalKinds.SERVICE_MONITOR));
    }

    static boolean present(KubernetesClient client, GroupVersionKind gvk) {
        String key = client.getMasterUrl() + " " + gvk.apiVersion() + "/" + gvk.getKind();
        long now = System.currentTimeMillis();
        long[] seen = SEEN.get(key);
        if (seen != null && now - seen[0] < TTL_MS) {
            return seen[1] == 1;
        }
        boolean present;
        try {
            present = client.supports(gvk.apiVersion(), gvk.getKind());
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
}
