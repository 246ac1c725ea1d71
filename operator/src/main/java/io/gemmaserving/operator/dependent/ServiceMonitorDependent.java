package io.gemmaserving.operator.dependent;

import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import java.util.List;
import java.util.Map;

/** Prometheus Operator ServiceMonitor scraping /metrics on the Service's http port; only where its API exists. */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class ServiceMonitorDependent extends CRUDKubernetesDependentResource<OptionalKinds.ServiceMonitor, GemmaModel> {

    public ServiceMonitorDependent() {
        super(OptionalKinds.ServiceMonitor.class);
    }

    @Override
    protected OptionalKinds.ServiceMonitor desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static OptionalKinds.ServiceMonitor build(ModelPlan p) {
        Map<String, Object> spec = Map.of(
                "selector", Map.of("matchLabels", p.selectorLabels()),
                "endpoints", List.of(Map.of("port", "http", "path", "/metrics", "interval", "15s")));
        return OptionalKinds.fill(new OptionalKinds.ServiceMonitor(), OptionalKinds.SERVICE_MONITOR, Plans.meta(p, p.name), spec);
    }
}
