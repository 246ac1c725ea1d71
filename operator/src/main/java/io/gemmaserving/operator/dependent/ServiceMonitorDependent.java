package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import io.javaoperatorsdk.operator.processing.GroupVersionKind;
import io.javaoperatorsdk.operator.processing.dependent.Creator;
import io.javaoperatorsdk.operator.processing.dependent.Updater;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.GenericKubernetesDependentResource;
import java.util.List;
import java.util.Map;

/** Prometheus Operator ServiceMonitor scraping /metrics on the Service's http port; only where its API exists. */
public class ServiceMonitorDependent extends GenericKubernetesDependentResource<GemmaModel>
        implements Creator<GenericKubernetesResource, GemmaModel>, Updater<GenericKubernetesResource, GemmaModel>,
        GarbageCollected<GemmaModel> {

    public static final GroupVersionKind GVK = new GroupVersionKind("monitoring.coreos.com", "v1", "ServiceMonitor");

    public ServiceMonitorDependent() {
        super(GVK);
    }

    @Override
    protected GenericKubernetesResource desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static GenericKubernetesResource build(ModelPlan p) {
        Map<String, Object> spec = Map.of(
                "selector", Map.of("matchLabels", p.selectorLabels()),
                "endpoints", List.of(Map.of("port", "http", "path", "/metrics", "interval", "15s")));
        return new GenericKubernetesResourceBuilder().withApiVersion(GVK.apiVersion()).withKind(GVK.getKind())
                .withMetadata(Plans.meta(p, p.name)).withAdditionalProperties(Map.of("spec", spec)).build();
    }
}
