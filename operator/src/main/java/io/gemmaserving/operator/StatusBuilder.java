package io.gemmaserving.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.gemmaserving.operator.api.GemmaModelStatus;
import io.gemmaserving.operator.dependent.Conditions;
import io.gemmaserving.operator.plan.ModelPlan;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * GemmaModel.status from the plan and the observed Deployment: Ready, Progressing, Degraded, RuntimeResolved,
 * WeightsAvailable in metav1.Condition shape. A condition whose status did not change keeps its lastTransitionTime.
 */
public final class StatusBuilder {

    public static final String READY = "Ready";
    public static final String PROGRESSING = "Progressing";
    public static final String DEGRADED = "Degraded";
    public static final String RUNTIME_RESOLVED = "RuntimeResolved";
    public static final String WEIGHTS_AVAILABLE = "WeightsAvailable";

    private StatusBuilder() {
    }

    /**
     * @param deployment the Deployment as observed (null: none yet)
     * @param url        the Route's external URL, if any
     * @param previous   the status now stored (for transition times; may be null)
     */
    public static GemmaModelStatus build(ModelPlan p, Deployment deployment, String url, GemmaModelStatus previous,
                                         Instant now) {
        long generation = p.model.getMetadata().getGeneration() == null ? 0 : p.model.getMetadata().getGeneration();
        GemmaModelStatus s = new GemmaModelStatus();
        s.observedGeneration = generation;
        s.selector = p.selector();
        s.endpoint = p.endpoint;
        s.url = url;
        s.tensorParallelSize = p.tensorParallelSize;
        s.memoryEstimate = p.memoryEstimate;
        // the named runtime is gone but its Deployment is kept: the pods go on serving, and status says what they run
        boolean kept = p.runtimeMissing() && deployment != null;
        boolean serving = p.deployable() || kept;
        if (p.runtime != null) {
            s.runtime = p.runtime.name();
            s.runtimeImage = p.runtime.image();
            s.resources = p.resources;
        } else if (kept && previous != null) {
            s.runtime = previous.runtime;
            s.runtimeImage = previous.runtimeImage;
            s.resources = previous.resources;
        }
        int want = deployment == null || deployment.getSpec().getReplicas() == null ? 0 : deployment.getSpec().getReplicas();
        int ready = 0;
        if (deployment != null && deployment.getStatus() != null) {
            s.replicas = nz(deployment.getStatus().getReplicas());
            ready = nz(deployment.getStatus().getReadyReplicas());
            s.readyReplicas = ready;
        } else {
            s.replicas = 0;
            s.readyReplicas = 0;
        }

        List<Condition> conditions = new ArrayList<>();
        String t = now.truncatedTo(ChronoUnit.SECONDS).toString();
        // RuntimeResolved
        var r = p.resolution;
        conditions.add(cond(RUNTIME_RESOLVED, r.resolved(), r.reason(), r.message(), generation, t));

        List<ModelPlan.Issue> problems = p.issues;
        boolean deploymentDone = deployment != null && Conditions.DeploymentReady.ready(deployment);
        boolean rolledOut = deployment != null && deployment.getStatus() != null
                && deployment.getStatus().getObservedGeneration() != null
                && deployment.getStatus().getObservedGeneration() >= nzl(deployment.getMetadata().getGeneration());
        String stuck = deployment == null || deployment.getStatus() == null || deployment.getStatus().getConditions() == null
                ? null : deployment.getStatus().getConditions().stream()
                .filter(c -> ("Progressing".equals(c.getType()) && "False".equals(c.getStatus()))
                        || ("ReplicaFailure".equals(c.getType()) && "True".equals(c.getStatus())))
                .map(c -> c.getReason() + ": " + c.getMessage()).findFirst().orElse(null);

        // WeightsAvailable: a ready pod has loaded them (readiness is true only after load and warm-up)
        if (!serving) {
            conditions.add(cond(WEIGHTS_AVAILABLE, null, "NotDeployed", "no pods: see the Degraded condition", generation, t));
        } else if (ready > 0) {
            conditions.add(cond(WEIGHTS_AVAILABLE, true, "Loaded", "weights from " + p.model.getSpec().source.uri
                    + " loaded in " + ready + " pod(s)", generation, t));
        } else {
            conditions.add(cond(WEIGHTS_AVAILABLE, null, "Loading", "waiting for a pod to load " + p.modelPath,
                    generation, t));
        }

        // Degraded: a problem in the spec or environment, or a Deployment that stopped progressing
        if (!problems.isEmpty()) {
            String message = problems.stream().map(ModelPlan.Issue::message).collect(Collectors.joining("; "));
            if (kept) {
                message += "; until then Deployment '" + deployment.getMetadata().getName()
                        + "' is kept as it is (spec changes wait), its pods go on serving";
            }
            conditions.add(cond(DEGRADED, true, problems.getFirst().reason(), message, generation, t));
        } else if (stuck != null) {
            conditions.add(cond(DEGRADED, true, "DeploymentFailing", stuck, generation, t));
        } else {
            conditions.add(cond(DEGRADED, false, "AsExpected", warnings(p), generation, t));
        }

        // Progressing: rolling out or scaling toward the desired pods
        boolean progressing = serving && !deploymentDone && stuck == null;
        conditions.add(cond(PROGRESSING, progressing, progressing ? (deployment == null ? "Creating" : "RollingOut")
                        : "Complete",
                progressing ? ready + "/" + want + " replicas ready" : (serving ? "rollout complete" : "nothing to roll out"),
                generation, t));

        // Ready: every desired replica of the current spec serves (0 desired, scaled to zero, counts as ready)
        boolean isReady = serving && deploymentDone && rolledOut;
        String reason = !serving ? problems.getFirst().reason()
                : isReady ? (want == 0 ? "ScaledToZero" : "AllReplicasReady") : "ReplicasNotReady";
        String message = isReady ? ready + "/" + want + " replicas ready at " + p.endpoint
                : !serving ? problems.getFirst().message() : ready + "/" + want + " replicas ready";
        conditions.add(0, cond(READY, isReady, reason, message, generation, t));

        // keep transition times of conditions whose status did not change
        if (previous != null && previous.conditions != null) {
            for (Condition c : conditions) {
                previous.conditions.stream().filter(o -> o.getType().equals(c.getType())
                        && Objects.equals(o.getStatus(), c.getStatus())).findFirst()
                        .ifPresent(o -> c.setLastTransitionTime(o.getLastTransitionTime()));
            }
        }
        s.conditions = conditions;
        return s;
    }

    static String warnings(ModelPlan p) {
        return p.warnings.isEmpty() ? (p.sizingMessage == null ? "no problems found" : p.sizingMessage)
                : String.join("; ", p.warnings);
    }

    static Condition cond(String type, Boolean status, String reason, String message, long generation, String time) {
        return new ConditionBuilder().withType(type)
                .withStatus(status == null ? "Unknown" : status ? "True" : "False")
                .withReason(reason).withMessage(message == null ? "" : message)
                .withObservedGeneration(generation).withLastTransitionTime(time).build();
    }

    /** Same status apart from transition times: no need to write it. */
    public static boolean sameIgnoringTimes(GemmaModelStatus a, GemmaModelStatus b) {
        if (a == null || b == null) {
            return a == b;
        }
        return Objects.equals(strip(a), strip(b));
    }

    private static String strip(GemmaModelStatus s) {
        try {
            var mapper = io.fabric8.kubernetes.client.utils.Serialization.jsonMapper();
            var tree = mapper.valueToTree(s);
            if (tree.has("conditions")) {
                tree.get("conditions").forEach(c -> ((com.fasterxml.jackson.databind.node.ObjectNode) c).remove("lastTransitionTime"));
            }
            return tree.toString();
        } catch (IllegalArgumentException e) {
            return String.valueOf(s);
        }
    }

    static int nz(Integer i) {
        return i == null ? 0 : i;
    }

    static long nzl(Long l) {
        return l == null ? 0 : l;
    }
}
