package io.gemmaserving.operator.status;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.gemmaserving.operator.api.GemmaModelStatus;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Collects what each concern of a reconcile says (a problem, a warning, why the model is not ready, what is still
 * progressing) and builds GemmaModel.status from it in one place: the conditions (metav1.Condition shape) with their
 * transitions. A condition whose status did not change keeps its lastTransitionTime.
 *
 * <ul>
 *   <li>Ready: True when nothing said "not ready" and a concern said why it is ready;</li>
 *   <li>Degraded: True when any concern reported a problem, one line each, the first one's reason;</li>
 *   <li>Progressing: True when any concern is still under way;</li>
 *   <li>Warnings: True when the spec works but something in it deserves a look (not a problem: Degraded stays
 *       False);</li>
 *   <li>other conditions (RuntimeResolved, WeightsAvailable) as their concern sets them.</li>
 * </ul>
 */
public final class StatusAggregator {

    public static final String READY = "Ready";
    public static final String PROGRESSING = "Progressing";
    public static final String DEGRADED = "Degraded";
    public static final String RUNTIME_RESOLVED = "RuntimeResolved";
    public static final String WEIGHTS_AVAILABLE = "WeightsAvailable";
    public static final String WARNINGS = "Warnings";

    private record Said(String reason, String message) {
    }

    private final long generation;
    private final String now;
    private final GemmaModelStatus previous;
    private final GemmaModelStatus status = new GemmaModelStatus();
    private final List<Said> errors = new ArrayList<>();
    private final List<Said> notReady = new ArrayList<>();
    private final List<Said> progressing = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    private final List<Condition> others = new ArrayList<>();
    private Said ready;
    private Said settled = new Said("Complete", "nothing in progress");
    private String healthy = "no problems found";

    /**
     * @param generation the metadata.generation the status describes
     * @param previous   the status now stored (for transition times; may be null)
     */
    public StatusAggregator(long generation, GemmaModelStatus previous, Instant now) {
        this.generation = generation;
        this.previous = previous;
        this.now = now.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    public StatusAggregator addError(String reason, String message) {
        errors.add(new Said(reason, OneLine.of(message)));
        return this;
    }

    public StatusAggregator addWarning(String message) {
        warnings.add(OneLine.of(message));
        return this;
    }

    public StatusAggregator addNotReady(String reason, String message) {
        notReady.add(new Said(reason, OneLine.of(message)));
        return this;
    }

    public StatusAggregator addProgressing(String reason, String message) {
        progressing.add(new Said(reason, OneLine.of(message)));
        return this;
    }

    /** Why the model is ready; it counts only when no concern said it is not. */
    public StatusAggregator ready(String reason, String message) {
        ready = new Said(reason, OneLine.of(message));
        return this;
    }

    /** The Progressing=False reason and message, when nothing is in progress. */
    public StatusAggregator settled(String reason, String message) {
        settled = new Said(reason, OneLine.of(message));
        return this;
    }

    /** The Degraded=False message, when there is no problem. */
    public StatusAggregator healthy(String message) {
        healthy = OneLine.of(message);
        return this;
    }

    /** A condition of one concern only (RuntimeResolved, WeightsAvailable); null status is Unknown. */
    public StatusAggregator condition(String type, Boolean value, String reason, String message) {
        others.add(cond(type, value, reason, OneLine.of(message)));
        return this;
    }

    /** The status fields that are not conditions. */
    public StatusAggregator apply(Consumer<GemmaModelStatus> fields) {
        fields.accept(status);
        return this;
    }

    public GemmaModelStatus build() {
        List<Condition> conditions = new ArrayList<>();
        boolean isReady = notReady.isEmpty() && ready != null;
        Said r = isReady ? ready : notReady.isEmpty() ? new Said("NotReady", "not ready") : first(notReady);
        conditions.add(cond(READY, isReady, r.reason(), r.message()));
        conditions.addAll(others);
        conditions.add(errors.isEmpty() ? cond(DEGRADED, false, "AsExpected", healthy)
                : cond(DEGRADED, true, errors.getFirst().reason(), join(errors)));
        conditions.add(progressing.isEmpty() ? cond(PROGRESSING, false, settled.reason(), settled.message())
                : cond(PROGRESSING, true, progressing.getFirst().reason(), join(progressing)));
        conditions.add(warnings.isEmpty() ? cond(WARNINGS, false, "NoWarnings", "no warnings")
                : cond(WARNINGS, true, "SpecWarnings", String.join("\n", warnings)));
        if (previous != null && previous.conditions != null) {
            for (Condition c : conditions) {
                previous.conditions.stream().filter(o -> o.getType().equals(c.getType())
                                && Objects.equals(o.getStatus(), c.getStatus())).findFirst()
                        .ifPresent(o -> c.setLastTransitionTime(o.getLastTransitionTime()));
            }
        }
        status.observedGeneration = generation;
        status.conditions = conditions;
        return status;
    }

    private static Said first(List<Said> said) {
        return new Said(said.getFirst().reason(), join(said));
    }

    /** One line per message. */
    private static String join(List<Said> said) {
        return String.join("\n", said.stream().map(Said::message).distinct().toList());
    }

    private Condition cond(String type, Boolean value, String reason, String message) {
        return new ConditionBuilder().withType(type)
                .withStatus(value == null ? "Unknown" : value ? "True" : "False")
                .withReason(reason).withMessage(message == null ? "" : message)
                .withObservedGeneration(generation).withLastTransitionTime(now).build();
    }

    /** Same status apart from transition times: no need to write it. */
    public static boolean sameIgnoringTimes(GemmaModelStatus a, GemmaModelStatus b) {
        if (a == null || b == null) {
            return a == b;
        }
        return Objects.equals(strip(a), strip(b));
    }

    private static String strip(GemmaModelStatus s) {
        var tree = io.fabric8.kubernetes.client.utils.Serialization.jsonMapper().valueToTree(s);
        if (tree.has("conditions")) {
            tree.get("conditions").forEach(c -> ((com.fasterxml.jackson.databind.node.ObjectNode) c).remove("lastTransitionTime"));
        }
        return tree.toString();
    }

    /** The condition of this type, if the status has it. */
    public static java.util.Optional<Condition> find(GemmaModelStatus s, String type) {
        return s == null || s.conditions == null ? java.util.Optional.empty()
                : s.conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
    }
}
