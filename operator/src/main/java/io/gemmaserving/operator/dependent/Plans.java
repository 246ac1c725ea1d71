package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.plan.ModelPlan;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.util.List;

/**
 * One {@link ModelPlan} per reconcile: the reconciler makes it, then runs the workflow, whose dependents and conditions
 * read it from the workflow context; and the metadata every child carries.
 */
public final class Plans {

    /** Name of the informer event source of the namespace's ServingRuntimes. */
    public static final String RUNTIMES = "servingruntimes";
    private static final String KEY = ModelPlan.class.getName();

    private Plans() {
    }

    /** The plan of this reconcile (the reconciler puts it in before it runs the workflow). */
    public static ModelPlan of(GemmaModel primary, Context<GemmaModel> context) {
        return context.managedWorkflowAndDependentResourceContext().get(KEY, ModelPlan.class)
                .orElseThrow(() -> new IllegalStateException("no plan for GemmaModel " + primary.getMetadata().getName()
                        + ": the workflow ran before the reconciler planned"));
    }

    public static void put(Context<GemmaModel> context, ModelPlan plan) {
        context.managedWorkflowAndDependentResourceContext().put(KEY, plan);
    }

    /** The namespace's ServingRuntimes, from the informer's cache. */
    @SuppressWarnings("unchecked")
    public static List<ServingRuntime> runtimes(GemmaModel primary, Context<GemmaModel> context) {
        var source = (InformerEventSource<ServingRuntime, GemmaModel>) context.eventSourceRetriever()
                .getEventSourceFor(ServingRuntime.class, RUNTIMES);
        return source.list(primary.getMetadata().getNamespace(), r -> true).toList();
    }

    /** Name, namespace, labels and the controller owner reference (deleting the model deletes the child). */
    public static ObjectMeta meta(ModelPlan p, String name) {
        GemmaModel m = p.model;
        return new ObjectMetaBuilder().withName(name).withNamespace(p.namespace).withLabels(p.labels())
                .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion(m.getApiVersion()).withKind(m.getKind())
                        .withName(m.getMetadata().getName()).withUid(m.getMetadata().getUid())
                        .withController(true).withBlockOwnerDeletion(true).build())
                .build();
    }
}
