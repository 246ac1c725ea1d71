package io.gemmaserving.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.GemmaModelStatus;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The tests' one way to read and assert a GemmaModel's conditions, whether they hold a typed GemmaModel, an untyped
 * resource from a generic client, or a bare status.
 */
public final class ConditionAssert {

    private ConditionAssert() {
    }

    /** The status of a GemmaModel, a GenericKubernetesResource of kind GemmaModel, or the status itself; null if none. */
    public static GemmaModelStatus statusOf(Object model) {
        return switch (model) {
            case null -> null;
            case GemmaModelStatus s -> s;
            case GemmaModel m -> m.getStatus();
            case GenericKubernetesResource r -> r.getAdditionalProperties().get("status") == null ? null
                    : Serialization.jsonMapper().convertValue(r.getAdditionalProperties().get("status"), GemmaModelStatus.class);
            default -> throw new IllegalArgumentException("not a GemmaModel: " + model.getClass());
        };
    }

    public static Optional<Condition> find(Object model, String type) {
        GemmaModelStatus s = statusOf(model);
        return s == null || s.conditions == null ? Optional.empty()
                : s.conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
    }

    /** The condition of this type; fails naming the conditions there are when it is absent. */
    public static Condition condition(Object model, String type) {
        return find(model, type).orElseThrow(() -> new AssertionError("no condition " + type + " in "
                + describe(statusOf(model))));
    }

    /**
     * Asserts a condition's status ("True", "False", "Unknown"), and its reason and a part of its message where they
     * are not null; the condition is well formed (transition time, generation) and its message is one line per
     * problem, never a stack trace.
     */
    public static Condition assertCondition(Object model, String type, String status, String reason, String inMessage) {
        Condition c = condition(model, type);
        String all = describe(statusOf(model));
        assertThat(c.getStatus()).as(type + " status in " + all).isEqualTo(status);
        if (reason != null) {
            assertThat(c.getReason()).as(type + " reason in " + all).isEqualTo(reason);
        }
        if (inMessage != null) {
            assertThat(c.getMessage()).as(type + " message").contains(inMessage);
        }
        assertThat(c.getLastTransitionTime()).as(type + " lastTransitionTime").isNotBlank();
        assertThat(c.getObservedGeneration()).as(type + " observedGeneration").isNotNull();
        assertNoStackTrace(c);
        return c;
    }

    public static void assertNoStackTrace(Condition c) {
        assertThat(c.getMessage()).as(c.getType() + " message")
                .doesNotContain("\tat ").doesNotContainPattern("\\n\\s*at [a-z]").doesNotContain("Exception");
        for (String line : c.getMessage().split("\n")) {
            assertThat(line.length()).as("a line of " + c.getType() + ": " + line).isLessThanOrEqualTo(1024);
        }
    }

    public static String describe(GemmaModelStatus s) {
        return s == null || s.conditions == null ? "(no status)" : s.conditions.stream()
                .map(c -> c.getType() + "=" + c.getStatus() + " " + c.getReason() + ": " + c.getMessage())
                .collect(Collectors.joining(" | "));
    }
}
