package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** OpenShift Route to the Service, edge TLS; only where the route.openshift.io API exists. */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class RouteDependent extends CRUDKubernetesDependentResource<OptionalKinds.Route, GemmaModel> {

    public RouteDependent() {
        super(OptionalKinds.Route.class);
    }

    @Override
    protected OptionalKinds.Route desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static OptionalKinds.Route build(ModelPlan p) {
        Map<String, Object> spec = Map.of(
                "to", Map.of("kind", "Service", "name", p.name, "weight", 100),
                "port", Map.of("targetPort", "http"),
                "tls", Map.of("termination", "edge", "insecureEdgeTerminationPolicy", "Redirect"));
        return OptionalKinds.fill(new OptionalKinds.Route(), OptionalKinds.ROUTE, Plans.meta(p, p.name), spec);
    }

    /** https://host of the first admitted ingress in the Route's status, if the router has admitted it. */
    @SuppressWarnings("unchecked")
    public static Optional<String> url(GenericKubernetesResource route) {
        Object status = route.getAdditionalProperties().get("status");
        if (!(status instanceof Map<?, ?> s) || !(s.get("ingress") instanceof List<?> ingress) || ingress.isEmpty()) {
            return Optional.empty();
        }
        Object host = ((Map<String, Object>) ingress.getFirst()).get("host");
        return host == null ? Optional.empty() : Optional.of("https://" + host);
    }
}
