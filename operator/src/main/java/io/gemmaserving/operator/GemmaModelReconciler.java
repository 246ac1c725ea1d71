package io.gemmaserving.operator;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.GemmaModelStatus;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.dependent.Conditions;
import io.gemmaserving.operator.dependent.DeploymentDependent;
import io.gemmaserving.operator.dependent.HorizontalPodAutoscalerDependent;
import io.gemmaserving.operator.dependent.OptionalKinds;
import io.gemmaserving.operator.dependent.Plans;
import io.gemmaserving.operator.dependent.PodDisruptionBudgetDependent;
import io.gemmaserving.operator.dependent.RouteDependent;
import io.gemmaserving.operator.dependent.ScaledObjectDependent;
import io.gemmaserving.operator.dependent.ServiceDependent;
import io.gemmaserving.operator.dependent.ServiceMonitorDependent;
import io.gemmaserving.operator.plan.ModelPlan;
import io.gemmaserving.operator.plan.OperatorSettings;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.MaxReconciliationInterval;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Workflow;
import io.javaoperatorsdk.operator.api.reconciler.dependent.Dependent;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * GemmaModel -> Service, Deployment, and the optional children, as a java-operator-sdk workflow. The dependents
 * build desired state from one {@link ModelPlan} per reconcile; this class then writes the status.
 *
 * <p>Runs inside Quarkus (quarkus-operator-sdk registers it) or in a plain JOSDK {@code Operator}:
 * {@code new Operator(o -> o.withKubernetesClient(client)).register(new GemmaModelReconciler())}.
 */
@Workflow(dependents = {
        @Dependent(name = "service", type = ServiceDependent.class),
        @Dependent(name = "deployment", type = DeploymentDependent.class,
                reconcilePrecondition = Conditions.Deployable.class,
                readyPostcondition = Conditions.DeploymentReady.class),
        // the autoscalers and the PDB do not wait for the Deployment to be ready (a model can take many minutes to
        // load); their preconditions include the Deployment's own (no blocking problem)
        @Dependent(name = "hpa", type = HorizontalPodAutoscalerDependent.class,
                reconcilePrecondition = Conditions.UsesHpa.class),
        @Dependent(name = "scaledobject", type = ScaledObjectDependent.class,
                activationCondition = Conditions.KedaPresent.class, reconcilePrecondition = Conditions.UsesKeda.class),
        @Dependent(name = "pdb", type = PodDisruptionBudgetDependent.class,
                reconcilePrecondition = Conditions.MultiplePods.class),
        @Dependent(name = "route", type = RouteDependent.class, dependsOn = "service",
                activationCondition = Conditions.RoutePresent.class),
        @Dependent(name = "servicemonitor", type = ServiceMonitorDependent.class, dependsOn = "service",
                activationCondition = Conditions.ServiceMonitorPresent.class),
})
// a periodic reconcile notices optional APIs (KEDA, routes, ServiceMonitors) installed after the model
@ControllerConfiguration(name = "gemmamodel",
        maxReconciliationInterval = @MaxReconciliationInterval(interval = 5, timeUnit = TimeUnit.MINUTES))
public class GemmaModelReconciler implements Reconciler<GemmaModel> {

    private static final Logger LOG = Logger.getLogger(GemmaModelReconciler.class);

    public GemmaModelReconciler() {
        this(OperatorSettings.fromEnvironment());
    }

    public GemmaModelReconciler(OperatorSettings settings) {
        OperatorSettings.install(settings);
    }

    /** ServingRuntimes: a change to one re-plans every GemmaModel of its namespace. */
    @Override
    public List<EventSource<?, GemmaModel>> prepareEventSources(EventSourceContext<GemmaModel> context) {
        var config = InformerEventSourceConfiguration.from(ServingRuntime.class, GemmaModel.class)
                .withName(Plans.RUNTIMES)
                .withSecondaryToPrimaryMapper(runtime -> context.getPrimaryCache()
                        .list(runtime.getMetadata().getNamespace()).map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
                .build();
        return List.of(new InformerEventSource<>(config, context));
    }

    @Override
    public UpdateControl<GemmaModel> reconcile(GemmaModel model, Context<GemmaModel> context) {
        ModelPlan plan = Plans.of(model, context);
        Deployment deployment = context.getSecondaryResource(Deployment.class).orElse(null);
        String url = routeUrl(context).orElse(null);
        if (plan.keda && plan.autoscaling != null && !kedaPresent(context)) {
            plan.warnings.add("autoscaling mode KEDA but KEDA is not installed: using an HPA");
        }
        GemmaModelStatus previous = model.getStatus();
        GemmaModelStatus status = StatusBuilder.build(plan, deployment, url, previous, Instant.now());
        event(model, previous, status, context);
        if (StatusBuilder.sameIgnoringTimes(previous, status)) {
            return UpdateControl.noUpdate();
        }
        GemmaModel patch = new GemmaModel();
        patch.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
                .withName(model.getMetadata().getName()).withNamespace(model.getMetadata().getNamespace()).build());
        patch.setStatus(status);
        return UpdateControl.patchStatus(patch);
    }

    @Override
    public ErrorStatusUpdateControl<GemmaModel> updateErrorStatus(GemmaModel model, Context<GemmaModel> context, Exception e) {
        LOG.warnf("reconciling %s/%s failed: %s", model.getMetadata().getNamespace(), model.getMetadata().getName(),
                e.getMessage());
        GemmaModelStatus status = model.getStatus() == null ? new GemmaModelStatus() : model.getStatus();
        long generation = model.getMetadata().getGeneration() == null ? 0 : model.getMetadata().getGeneration();
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        String now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        status.conditions.removeIf(c -> c.getType().equals(StatusBuilder.DEGRADED) || c.getType().equals(StatusBuilder.READY));
        status.conditions.add(StatusBuilder.cond(StatusBuilder.READY, false, "ReconcileError", message, generation, now));
        status.conditions.add(StatusBuilder.cond(StatusBuilder.DEGRADED, true, "ReconcileError", message, generation, now));
        GemmaModel patch = new GemmaModel();
        patch.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
                .withName(model.getMetadata().getName()).withNamespace(model.getMetadata().getNamespace()).build());
        patch.setStatus(status);
        return ErrorStatusUpdateControl.patchStatus(patch);
    }

    private static Optional<String> routeUrl(Context<GemmaModel> context) {
        if (!routeApi(context)) {
            return Optional.empty();
        }
        try {
            return context.getSecondaryResource(OptionalKinds.Route.class).flatMap(RouteDependent::url);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    private static boolean routeApi(Context<GemmaModel> context) {
        return new Conditions.RoutePresent().isMet(null, null, context);
    }

    private static boolean kedaPresent(Context<GemmaModel> context) {
        return new Conditions.KedaPresent().isMet(null, null, context);
    }

    /** A Warning event when the Degraded condition turns on or changes its reason; Normal when it clears. */
    private static void event(GemmaModel model, GemmaModelStatus previous, GemmaModelStatus status, Context<GemmaModel> context) {
        var now = degraded(status);
        var before = previous == null ? null : degraded(previous);
        if (now == null || (before != null && before.getStatus().equals(now.getStatus())
                && before.getReason().equals(now.getReason()))) {
            return;
        }
        if ("False".equals(now.getStatus()) && before == null) {
            return;
        }
        boolean bad = "True".equals(now.getStatus());
        try {
            String ts = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
            context.getClient().v1().events().inNamespace(model.getMetadata().getNamespace()).resource(new EventBuilder()
                    .withNewMetadata().withGenerateName(model.getMetadata().getName() + ".")
                    .withNamespace(model.getMetadata().getNamespace()).endMetadata()
                    .withInvolvedObject(new ObjectReferenceBuilder().withApiVersion(model.getApiVersion())
                            .withKind(model.getKind()).withName(model.getMetadata().getName())
                            .withNamespace(model.getMetadata().getNamespace()).withUid(model.getMetadata().getUid()).build())
                    .withType(bad ? "Warning" : "Normal").withReason(bad ? now.getReason() : "Recovered")
                    .withMessage(now.getMessage()).withFirstTimestamp(ts).withLastTimestamp(ts).withCount(1)
                    .withNewSource().withComponent("gemma-operator").endSource().build()).create();
        } catch (RuntimeException e) {
            LOG.debugf("could not record an event for %s: %s", model.getMetadata().getName(), e.getMessage());
        }
    }

    private static io.fabric8.kubernetes.api.model.Condition degraded(GemmaModelStatus s) {
        return s.conditions == null ? null : s.conditions.stream()
                .filter(c -> StatusBuilder.DEGRADED.equals(c.getType())).findFirst().orElse(null);
    }
}
