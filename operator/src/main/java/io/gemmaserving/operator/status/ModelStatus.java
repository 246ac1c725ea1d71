package io.gemmaserving.operator.status;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.gemmaserving.operator.api.GemmaModelStatus;
import io.gemmaserving.operator.dependent.Conditions;
import io.gemmaserving.operator.plan.ModelPlan;
import java.time.Instant;
import java.util.List;

/**
 * GemmaModel.status from the plan and what the reconcile observed, concern by concern: the runtime, the spec's
 * problems, children the API server refused, the pods, the Deployment's rollout, the weights. Each adds what it has
 * to say to one {@link StatusAggregator}, which builds the conditions.
 */
public final class ModelStatus {

    /**
     * What a reconcile observed.
     *
     * @param deployment the model's Deployment (null: none yet)
     * @param pods       the model's pods
     * @param url        the Route's external URL, if any
     * @param failures   children that could not be applied in this reconcile
     */
    public record Observed(Deployment deployment, List<Pod> pods, String url, List<ChildFailures.Failure> failures) {
        public static Observed of(Deployment deployment) {
            return new Observed(deployment, List.of(), null, List.of());
        }
    }

    private ModelStatus() {
    }

    public static GemmaModelStatus build(ModelPlan p, Observed o, GemmaModelStatus previous, Instant now) {
        long generation = p.model.getMetadata().getGeneration() == null ? 0 : p.model.getMetadata().getGeneration();
        StatusAggregator a = new StatusAggregator(generation, previous, now);
        Deployment deployment = o.deployment();
        // the named runtime is gone but its Deployment is kept: the pods go on serving, and status says what they run
        boolean kept = p.runtimeMissing() && deployment != null;
        boolean serving = p.deployable() || kept;
        int want = deployment == null || deployment.getSpec().getReplicas() == null ? 0 : deployment.getSpec().getReplicas();
        int ready = deployment == null || deployment.getStatus() == null ? 0 : nz(deployment.getStatus().getReadyReplicas());

        a.apply(s -> {
            s.selector = p.selector();
            s.endpoint = p.endpoint;
            s.url = o.url();
            s.tensorParallelSize = p.tensorParallelSize;
            s.memoryEstimate = p.memoryEstimate;
            if (p.runtime != null) {
                s.runtime = p.runtime.name();
                s.runtimeImage = p.runtime.image();
                s.resources = p.resources;
            } else if (kept && previous != null) {
                s.runtime = previous.runtime;
                s.runtimeImage = previous.runtimeImage;
                s.resources = previous.resources;
            }
            s.replicas = deployment == null || deployment.getStatus() == null ? 0 : nz(deployment.getStatus().getReplicas());
            s.readyReplicas = ready;
        });

        // the runtime
        var r = p.resolution;
        a.condition(StatusAggregator.RUNTIME_RESOLVED, r.resolved(), r.reason(), r.message());

        // the spec's problems and warnings
        p.issues.forEach(i -> a.addError(i.reason(), i.message()));
        if (kept) {
            a.addError(p.issues.getFirst().reason(), "until then Deployment '" + deployment.getMetadata().getName()
                    + "' is kept as it is (spec changes wait), its pods go on serving");
        }
        p.warnings.forEach(a::addWarning);
        a.healthy(p.sizingMessage == null ? "no problems found" : p.sizingMessage);

        // children the API server refused
        for (ChildFailures.Failure f : o.failures()) {
            a.addError(f.kind() + "Refused", f.line());
        }

        // the pods
        if (serving) {
            PodProblems.worst(o.pods()).ifPresent(pp -> {
                if (pp.degraded()) {
                    a.addError(pp.reason(), pp.message());
                } else {
                    a.addProgressing(pp.reason(), pp.message());
                }
                a.addNotReady(pp.reason(), pp.message());
            });
        }

        // the Deployment's rollout
        boolean deploymentDone = deployment != null && Conditions.DeploymentReady.ready(deployment);
        boolean rolledOut = deployment != null && deployment.getStatus() != null
                && deployment.getStatus().getObservedGeneration() != null
                && deployment.getStatus().getObservedGeneration() >= nzl(deployment.getMetadata().getGeneration());
        String stuck = deployment == null || deployment.getStatus() == null || deployment.getStatus().getConditions() == null
                ? null : deployment.getStatus().getConditions().stream()
                .filter(c -> ("Progressing".equals(c.getType()) && "False".equals(c.getStatus()))
                        || ("ReplicaFailure".equals(c.getType()) && "True".equals(c.getStatus())))
                .map(c -> c.getReason() + ": " + c.getMessage()).findFirst().orElse(null);
        if (stuck != null) {
            a.addError("DeploymentFailing", stuck);
        }
        if (serving && !deploymentDone && stuck == null) {
            a.addProgressing(deployment == null ? "Creating" : "RollingOut", ready + "/" + want + " replicas ready");
        } else {
            a.settled("Complete", serving ? "rollout complete" : "nothing to roll out");
        }
        if (!serving) {
            a.addNotReady(p.issues.getFirst().reason(), p.issues.getFirst().message());
        } else if (serving && deploymentDone && rolledOut) {
            a.ready(want == 0 ? "ScaledToZero" : "AllReplicasReady", ready + "/" + want + " replicas ready at " + p.endpoint);
        } else {
            a.addNotReady("ReplicasNotReady", ready + "/" + want + " replicas ready");
        }

        // the weights: a ready pod has loaded them (readiness is true only after load and warm-up)
        if (!serving) {
            a.condition(StatusAggregator.WEIGHTS_AVAILABLE, null, "NotDeployed", "no pods: see the Degraded condition");
        } else if (ready > 0) {
            a.condition(StatusAggregator.WEIGHTS_AVAILABLE, true, "Loaded", "weights from " + p.model.getSpec().source.uri
                    + " loaded in " + ready + " pod(s)");
        } else {
            a.condition(StatusAggregator.WEIGHTS_AVAILABLE, null, "Loading", "waiting for a pod to load " + p.modelPath);
        }
        return a.build();
    }

    static int nz(Integer i) {
        return i == null ? 0 : i;
    }

    static long nzl(Long l) {
        return l == null ? 0 : l;
    }
}
