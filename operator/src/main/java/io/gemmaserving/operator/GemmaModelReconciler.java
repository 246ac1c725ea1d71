package io.gemmaserving.operator;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.GemmaModelStatus;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.dependent.ApiDiscovery;
import io.gemmaserving.operator.dependent.Children;
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
import io.gemmaserving.operator.plan.ModelPlanner;
import io.gemmaserving.operator.plan.OperatorSettings;
import io.gemmaserving.operator.status.ChildFailures;
import io.gemmaserving.operator.status.ModelStatus;
import io.gemmaserving.operator.status.OneLine;
import io.gemmaserving.operator.status.StatusAggregator;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.MaxReconciliationInterval;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Workflow;
import io.javaoperatorsdk.operator.api.reconciler.dependent.Dependent;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * GemmaModel -> Service, Deployment, and the optional children, as a java-operator-sdk workflow. Each reconcile makes
 * one {@link ModelPlan}, runs the workflow (whose dependents build desired state from the plan), then writes the
 * status from the plan, the children and the pods. A child the API server refuses becomes one line in status (and
 * the whole answer goes to the log and an Event), never a stack trace.
 *
 * <p>Runs inside Quarkus (quarkus-operator-sdk registers it, with the settings {@link OperatorSettingsProducer} makes)
 * or in a plain JOSDK {@code Operator}:
 * {@code new Operator(o -> o.withKubernetesClient(client)).register(new GemmaModelReconciler(settings))}.
 */
@Workflow(explicitInvocation = true, handleExceptionsInReconciler = true, dependents = {
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
    /** Name of the informer event source of the models' pods. */
    static final String PODS = "pods";
    /** After a child was refused: try again this much later (the spec may have been fixed in between: an event). */
    static final Duration RETRY_REFUSED = Duration.ofSeconds(30);

    private final OperatorSettings settings;

    @Inject
    public GemmaModelReconciler(OperatorSettings settings) {
        this.settings = settings;
    }

    /**
     * ServingRuntimes: a change to one re-plans every GemmaModel of its namespace. Pods (those the operator's
     * Deployments made): a change re-reads what they say into status.
     */
    @Override
    public List<EventSource<?, GemmaModel>> prepareEventSources(EventSourceContext<GemmaModel> context) {
        var runtimes = InformerEventSourceConfiguration.from(ServingRuntime.class, GemmaModel.class)
                .withName(Plans.RUNTIMES)
                .withSecondaryToPrimaryMapper(runtime -> context.getPrimaryCache()
                        .list(runtime.getMetadata().getNamespace()).map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
                .build();
        var pods = InformerEventSourceConfiguration.from(Pod.class, GemmaModel.class)
                .withName(PODS)
                .withLabelSelector(Children.MANAGED_SELECTOR)
                .withSecondaryToPrimaryMapper(pod -> {
                    String model = pod.getMetadata().getLabels() == null ? null
                            : pod.getMetadata().getLabels().get(ModelPlan.MODEL_LABEL);
                    return model == null ? Set.of() : Set.of(new ResourceID(model, pod.getMetadata().getNamespace()));
                })
                .build();
        return List.of(new InformerEventSource<>(runtimes, context), new InformerEventSource<>(pods, context));
    }

    @Override
    public UpdateControl<GemmaModel> reconcile(GemmaModel model, Context<GemmaModel> context) {
        ModelPlan plan = ModelPlanner.plan(model, Plans.runtimes(model, context), settings,
                ApiDiscovery.of(context.getClient()));
        Plans.put(context, plan);
        var result = context.managedWorkflowAndDependentResourceContext().reconcileManagedWorkflow();
        List<ChildFailures.Failure> failures = ChildFailures.of(plan, result.getErroredDependents());
        result.getErroredDependents().forEach((dependent, e) -> LOG.warnf(e, "%s/%s: applying the %s failed",
                model.getMetadata().getNamespace(), model.getMetadata().getName(), dependent.resourceType().getSimpleName()));

        Deployment deployment = context.getSecondaryResource(Deployment.class).orElse(null);
        var observed = new ModelStatus.Observed(deployment, pods(model, context), routeUrl(plan, context).orElse(null),
                failures);
        GemmaModelStatus previous = model.getStatus();
        GemmaModelStatus status = ModelStatus.build(plan, observed, previous, Instant.now());
        events(model, previous, status, failures, context);
        UpdateControl<GemmaModel> control = StatusAggregator.sameIgnoringTimes(previous, status)
                ? UpdateControl.noUpdate() : UpdateControl.patchStatus(statusPatch(model, status));
        return failures.isEmpty() ? control : control.rescheduleAfter(RETRY_REFUSED);
    }

    /**
     * Anything the reconcile did not expect: one line in Ready and Degraded, the stack trace to the log only. JOSDK
     * retries with back-off, and the periodic reconcile comes back after that.
     */
    @Override
    public ErrorStatusUpdateControl<GemmaModel> updateErrorStatus(GemmaModel model, Context<GemmaModel> context, Exception e) {
        LOG.warnf(e, "reconciling %s/%s failed", model.getMetadata().getNamespace(), model.getMetadata().getName());
        String message = "the operator could not reconcile this model: " + OneLine.of(e);
        long generation = model.getMetadata().getGeneration() == null ? 0 : model.getMetadata().getGeneration();
        StatusAggregator a = new StatusAggregator(generation, model.getStatus(), Instant.now())
                .addError("ReconcileError", message).addNotReady("ReconcileError", message);
        GemmaModelStatus previous = model.getStatus();
        if (previous != null && previous.conditions != null) {
            // keep what the last good reconcile said about the runtime and the weights
            previous.conditions.stream().filter(c -> c.getType().equals(StatusAggregator.RUNTIME_RESOLVED)
                            || c.getType().equals(StatusAggregator.WEIGHTS_AVAILABLE))
                    .forEach(c -> a.condition(c.getType(), "Unknown".equals(c.getStatus()) ? null
                            : Boolean.valueOf("True".equals(c.getStatus())), c.getReason(), c.getMessage()));
            a.apply(s -> {
                s.runtime = previous.runtime;
                s.runtimeImage = previous.runtimeImage;
                s.endpoint = previous.endpoint;
                s.selector = previous.selector;
                s.replicas = previous.replicas;
                s.readyReplicas = previous.readyReplicas;
            });
        }
        return ErrorStatusUpdateControl.patchStatus(statusPatch(model, a.build()));
    }

    private static GemmaModel statusPatch(GemmaModel model, GemmaModelStatus status) {
        GemmaModel patch = new GemmaModel();
        patch.setMetadata(new ObjectMetaBuilder()
                .withName(model.getMetadata().getName()).withNamespace(model.getMetadata().getNamespace()).build());
        patch.setStatus(status);
        return patch;
    }

    @SuppressWarnings("unchecked")
    private static List<Pod> pods(GemmaModel model, Context<GemmaModel> context) {
        var source = (InformerEventSource<Pod, GemmaModel>) context.eventSourceRetriever().getEventSourceFor(Pod.class, PODS);
        String name = model.getMetadata().getName();
        return source.list(model.getMetadata().getNamespace(), pod -> pod.getMetadata().getLabels() != null
                && name.equals(pod.getMetadata().getLabels().get(ModelPlan.MODEL_LABEL))).toList();
    }

    private static Optional<String> routeUrl(ModelPlan plan, Context<GemmaModel> context) {
        if (!plan.apis.routes()) {
            return Optional.empty();
        }
        try {
            return context.getSecondaryResource(OptionalKinds.Route.class).flatMap(RouteDependent::url);
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * Events, when something a person should know changes: Warning when Degraded turns on or changes (a refused
     * child's Event carries the API server's whole answer), Normal Recovered when it clears, Warning when the spec's
     * warnings change.
     */
    private static void events(GemmaModel model, GemmaModelStatus previous, GemmaModelStatus status,
                               List<ChildFailures.Failure> failures, Context<GemmaModel> context) {
        var now = StatusAggregator.find(status, StatusAggregator.DEGRADED).orElse(null);
        var before = StatusAggregator.find(previous, StatusAggregator.DEGRADED).orElse(null);
        if (now != null && !(before != null && before.getStatus().equals(now.getStatus())
                && before.getReason().equals(now.getReason()) && before.getMessage().equals(now.getMessage()))
                && !("False".equals(now.getStatus()) && (before == null || "False".equals(before.getStatus())))) {
            boolean bad = "True".equals(now.getStatus());
            String message = now.getMessage();
            if (bad && !failures.isEmpty()) {
                message = failures.stream().map(f -> f.kind() + ": " + f.detail()).collect(Collectors.joining("\n"));
            }
            event(model, bad ? "Warning" : "Normal", bad ? now.getReason() : "Recovered", message, context);
        }
        var warnings = StatusAggregator.find(status, StatusAggregator.WARNINGS).orElse(null);
        var warnedBefore = StatusAggregator.find(previous, StatusAggregator.WARNINGS).orElse(null);
        if (warnings != null && "True".equals(warnings.getStatus())
                && (warnedBefore == null || !warnedBefore.getMessage().equals(warnings.getMessage()))) {
            event(model, "Warning", warnings.getReason(), warnings.getMessage(), context);
        }
    }

    private static void event(GemmaModel model, String type, String reason, String message, Context<GemmaModel> context) {
        try {
            String ts = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
            context.getClient().v1().events().inNamespace(model.getMetadata().getNamespace()).resource(new EventBuilder()
                    .withNewMetadata().withGenerateName(model.getMetadata().getName() + ".")
                    .withNamespace(model.getMetadata().getNamespace()).endMetadata()
                    .withInvolvedObject(new ObjectReferenceBuilder().withApiVersion(model.getApiVersion())
                            .withKind(model.getKind()).withName(model.getMetadata().getName())
                            .withNamespace(model.getMetadata().getNamespace()).withUid(model.getMetadata().getUid()).build())
                    .withType(type).withReason(reason).withMessage(message)
                    .withFirstTimestamp(ts).withLastTimestamp(ts).withCount(1)
                    .withNewSource().withComponent("gemma-operator").endSource().build()).create();
        } catch (RuntimeException e) {
            LOG.debugf("could not record an event for %s: %s", model.getMetadata().getName(), e.getMessage());
        }
    }
}
