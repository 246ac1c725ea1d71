package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * The optional children's kinds, untyped (their spec is a map) but named by annotations, so the client and the
 * dependents' informers know group, version and plural without API discovery: the workflow builds (and drops) their
 * informers as the APIs come and go, and discovery of an absent API would fail.
 */
public final class OptionalKinds {

    private OptionalKinds() {
    }

    @Group("keda.sh")
    @Version("v1alpha1")
    @Kind("ScaledObject")
    @Plural("scaledobjects")
    public static class ScaledObject extends GenericKubernetesResource implements Namespaced {
    }

    @Group("route.openshift.io")
    @Version("v1")
    @Kind("Route")
    @Plural("routes")
    public static class Route extends GenericKubernetesResource implements Namespaced {
    }

    @Group("monitoring.coreos.com")
    @Version("v1")
    @Kind("ServiceMonitor")
    @Plural("servicemonitors")
    public static class ServiceMonitor extends GenericKubernetesResource implements Namespaced {
    }

    static <T extends GenericKubernetesResource> T fill(T r, String apiVersion, String kind,
                                                          io.fabric8.kubernetes.api.model.ObjectMeta meta, Object spec) {
        r.setApiVersion(apiVersion);
        r.setKind(kind);
        r.setMetadata(meta);
        r.setAdditionalProperty("spec", spec);
        return r;
    }
}
