package io.gemmaserving.operator.status;

import static io.gemmaserving.operator.TestModels.model;
import static io.gemmaserving.operator.TestModels.plan;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.gemmaserving.operator.TestModels;
import io.gemmaserving.operator.plan.ModelPlan;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A refused child in one line naming the GemmaModel field, from the API server's answer as it sends it. */
@Tag("unit")
class ChildFailuresTest {

    static final String SPEC = "source: {uri: \"pvc://m/gemma-3-270m-it-Q4_K_M.gguf\", variant: gemma-3-270m-it}\n";

    static KubernetesClientException refused(String kind, String field, String message) {
        Status status = new StatusBuilder().withStatus("Failure").withCode(422).withReason("Invalid")
                .withMessage(kind + ".apps \"m\" is invalid: " + field + ": " + message)
                .withNewDetails().withKind(kind).withName("m").addNewCause().withField(field).withMessage(message)
                .withReason("FieldValueRequired").endCause().endDetails().build();
        return new KubernetesClientException(status);
    }

    @Test
    void anEnvVarWithoutANameIsReportedAgainstTheModelsEnvEntry() {
        ModelPlan p = plan(model("m", SPEC + "env: [{name: A, value: x}, {value: y}]"));
        // the container's env is HOME, then the model's: env[2] of the container is the model's spec.env[1]
        var f = ChildFailures.of(p, "Deployment", new IllegalStateException("wrapped",
                refused("Deployment", "spec.template.spec.containers[0].env[2].name", "Required value")));
        assertThat(f.line()).isEqualTo("spec.env[1].name: Required value (the API server refused the Deployment)");
        assertThat(f.detail()).contains("is invalid");
    }

    @Test
    void aRuntimesEnvIsNamedWithItsServingRuntime() {
        var r = TestModels.runtime("rt", "image: example.com/r:1\nenv: [{name: \"\", value: x}]");
        ModelPlan p = plan(model("m", SPEC + "runtime: rt"), r);
        var f = ChildFailures.of(p, "Deployment", refused("Deployment", "spec.template.spec.containers[0].env[1].name",
                "Required value"));
        assertThat(f.line()).startsWith("ServingRuntime 'rt' spec.env[0].name: Required value");
    }

    @Test
    void labelsTooLongNameTheModelsNameAndResourcesTheirField() {
        ModelPlan p = plan(model("m", SPEC));
        assertThat(ChildFailures.of(p, "Service", refused("Service", "metadata.labels",
                "Invalid value: \"x\": must be no more than 63 characters")).line())
                .startsWith("metadata.name: Invalid value");
        assertThat(ChildFailures.modelField(p, "Deployment", "spec.template.spec.containers[0].resources.limits[memory]"))
                .contains("spec.resources.limits[memory]");
        assertThat(ChildFailures.modelField(p, "Deployment", "spec.template.spec.nodeSelector"))
                .contains("spec.nodeSelector");
        // a field the model does not set is named as the child's
        assertThat(ChildFailures.of(p, "Deployment", refused("Deployment", "spec.strategy", "Invalid value")).line())
                .startsWith("Deployment spec.strategy: Invalid value");
    }

    @Test
    void anythingElseIsOneShortLineWithoutFrames() {
        ModelPlan p = plan(model("m", SPEC));
        RuntimeException deep = new RuntimeException("outer", new IllegalArgumentException(
                "connection refused\n\tat io.fabric8.Foo.bar(Foo.java:1)\n\tat io.fabric8.Foo.baz(Foo.java:2)"));
        var f = ChildFailures.of(p, "Deployment", deep);
        assertThat(f.line()).isEqualTo("could not apply the Deployment: connection refused");
        String huge = "x".repeat(5000);
        assertThat(ChildFailures.of(p, "Deployment", refused("Deployment", "spec.template.spec.containers[0].env[0].name",
                huge)).line()).hasSizeLessThanOrEqualTo(OneLine.MAX_CHARS).doesNotContain("\n");
    }
}
