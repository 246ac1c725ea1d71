package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;
import io.javaoperatorsdk.operator.processing.GroupVersionKind;

/**
 * The optional children's kinds, untyped (their spec is a map) but named by annotations, so the client and the
 * dependents' informers know group, version and plural without API discovery: the workflow builds (and drops) their
 * informers as the APIs come and go, and discovery of an absent API would fail.
 */
public final class OptionalKinds {

    static final String KEDA_GROUP = "keda.sh";
    static final String KEDA_VERSION = "v1alpha1";
    static final String ROUTE_GROUP = "route.openshift.io";
    static final String ROUTE_VERSION = "v1";
    static final String MONITORING_GROUP = "monitoring.coreos.com";
    static final String MONITORING_VERSION = "v1";

    /** Group, version and kind of each optional child: the classes' annotations and API discovery use these. */
    public static final GroupVersionKind SCALED_OBJECT = new GroupVersionKind(KEDA_GROUP, KEDA_VERSION, "ScaledObject");
    public static final GroupVersionKind ROUTE = new GroupVersionKind(ROUTE_GROUP, ROUTE_VERSION, "Route");
    public static final GroupVersionKind SERVICE_MONITOR =
            new GroupVersionKind(MONITORING_GROUP, MONITORING_VERSION, "ServiceMonitor");

    private OptionalKinds() {
    }

    @Group(KEDA_GROUP)
    @Version(KEDA_VERSION)
    @Kind("ScaledObject")
    @Plural("scaledobjects")
    public static class ScaledObject extends GenericKubernetesResource implements Namespaced {
    }

    @Group(ROUTE_GROUP)
    @Version(ROUTE_VERSION)
    @Kind("Route")
    @Plural("routes")
    public static class Route extends GenericKubernetesResource implements Namespaced {
    }

    @Group(MONITORING_GROUP)
    @Version(MONITORING_VERSION)
    @Kind("ServiceMonitor")
    @Plural("servicemonitors")
    public static class ServiceMonitor extends GenericKubernetesResource implements Namespaced {
    }

    static <T extends GenericKubernetesResource> T fill(T r, GroupVersionKind gvk,
                                                          io.fabric8.kubernetes.api.model.ObjectMeta meta, Object spec) {
        r.setApiVersion(gvk.apiVersion());
        r.setKind(gvk.getKind());
        r.setMetadata(meta);
        r.setAdditionalProperty("spec", spec);
        return r;
    }
}
