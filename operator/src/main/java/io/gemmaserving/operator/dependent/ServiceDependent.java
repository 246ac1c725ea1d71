package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;

/** ClusterIP Service in front of the pods: port 80 named http, to the runtime's http port. */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class ServiceDependent extends CRUDKubernetesDependentResource<Service, GemmaModel> {

    public ServiceDependent() {
        super(Service.class);
    }

    @Override
    protected Service desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static Service build(ModelPlan p) {
        return new ServiceBuilder().withMetadata(Plans.meta(p, p.name))
                .withNewSpec().withType("ClusterIP").withSelector(p.selectorLabels())
                .addNewPort().withName("http").withProtocol("TCP").withPort(Children.SERVICE_PORT)
                .withTargetPort(new IntOrString("http")).endPort()
                .endSpec().build();
    }
}
