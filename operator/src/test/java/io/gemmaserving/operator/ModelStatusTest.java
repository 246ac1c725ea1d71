package io.gemmaserving.operator;

import static io.gemmaserving.operator.TestModels.model;
import static io.gemmaserving.operator.TestModels.plan;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.gemmaserving.operator.api.GemmaModelStatus;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.dependent.DeploymentDependent;
import io.gemmaserving.operator.plan.ModelPlan;
import io.gemmaserving.operator.status.ModelStatus;
import io.gemmaserving.operator.status.StatusAggregator;
import java.time.Instant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ModelStatusTest {

    static final String SMALL = "source: {uri: \"pvc://m/gemma-3-270m-it-Q4_K_M.gguf\", variant: gemma-3-270m-it}\nreplicas: 2\n";
    static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");

    static Condition cond(GemmaModelStatus s, String type) {
        return ConditionAssert.condition(s, type);
    }

    static GemmaModelStatus build(ModelPlan p, Deployment d, GemmaModelStatus previous, Instant now) {
        return ModelStatus.build(p, ModelStatus.Observed.of(d), previous, now);
    }

    static Deployment observed(ModelPlan p, int ready) {
        Deployment d = DeploymentDependent.build(p);
        d.getMetadata().setGeneration(1L);
        d.setStatus(new DeploymentStatusBuilder().withObservedGeneration(1L).withReplicas(2).withUpdatedReplicas(2)
                .withReadyReplicas(ready).build());
        return d;
    }

    @Test
    void rolling_out_then_ready() {
        ModelPlan p = plan(model("s", SMALL));
        GemmaModelStatus creating = build(p, null, null, T0);
        assertEquals("False", cond(creating, "Ready").getStatus());
        assertEquals("True", cond(creating, "Progressing").getStatus());
        assertEquals("Creating", cond(creating, "Progressing").getReason());
        assertEquals("False", cond(creating, "Degraded").getStatus());
        assertEquals("True", cond(creating, "RuntimeResolved").getStatus());
        assertEquals(3L, creating.observedGeneration);
        assertEquals(3L, cond(creating, "Ready").getObservedGeneration());
        assertEquals("serving.gemma.io/model=s", creating.selector);
        assertEquals("builtin-cpu", creating.runtime);
        assertEquals(1, creating.tensorParallelSize);

        GemmaModelStatus half = build(p, observed(p, 1), creating, T0.plusSeconds(60));
        assertEquals("False", cond(half, "Ready").getStatus());
        assertEquals("1/2 replicas ready", cond(half, "Ready").getMessage());
        assertEquals("True", cond(half, "WeightsAvailable").getStatus());
        // unchanged status keeps its transition time
        assertEquals(cond(creating, "Ready").getLastTransitionTime(), cond(half, "Ready").getLastTransitionTime());

        GemmaModelStatus ready = build(p, observed(p, 2), half, T0.plusSeconds(120));
        assertEquals("True", cond(ready, "Ready").getStatus());
        assertEquals("AllReplicasReady", cond(ready, "Ready").getReason());
        assertEquals("False", cond(ready, "Progressing").getStatus());
        assertEquals("2026-11-23T10:02:00Z", cond(ready, "Ready").getLastTransitionTime());
        assertEquals(2, ready.readyReplicas);
        assertTrue(StatusAggregator.sameIgnoringTimes(ready,
                build(p, observed(p, 2), null, T0.plusSeconds(999))));
    }

    @Test
    void a_blocking_problem_is_degraded_and_not_ready_with_its_reason() {
        ModelPlan p = plan(model("s", SMALL.replace("replicas: 2", "runtime: missing")));
        GemmaModelStatus s = build(p, null, null, T0);
        assertEquals("False", cond(s, "RuntimeResolved").getStatus());
        assertEquals("RuntimeNotFound", cond(s, "Degraded").getReason());
        assertEquals("True", cond(s, "Degraded").getStatus());
        assertEquals("False", cond(s, "Ready").getStatus());
        assertEquals("False", cond(s, "Progressing").getStatus());
        assertTrue(cond(s, "Ready").getMessage().contains("'missing' does not exist"));
        assertEquals("NotDeployed", cond(s, "WeightsAvailable").getReason());
    }

    @Test
    void a_named_runtime_deleted_under_running_pods_is_degraded_but_ready_follows_the_kept_deployment() {
        ServingRuntime gone = TestModels.runtime("pinned", "image: example.com/pinned:1");
        ModelPlan before = plan(model("s", SMALL + "runtime: pinned\n"), gone);
        Deployment running = observed(before, 2);
        GemmaModelStatus served = build(before, running, null, T0);
        assertEquals("True", cond(served, "Ready").getStatus());

        ModelPlan after = plan(model("s", SMALL + "runtime: pinned\n")); // the runtime no longer exists
        GemmaModelStatus s = build(after, running, served, T0.plusSeconds(60));
        assertEquals("True", cond(s, "Degraded").getStatus());
        assertEquals("RuntimeNotFound", cond(s, "Degraded").getReason());
        String message = cond(s, "Degraded").getMessage();
        assertTrue(message.contains("ServingRuntime 'pinned' does not exist") && message.contains("create it")
                && message.contains("Deployment 's' is kept"), message);
        assertEquals("True", cond(s, "Ready").getStatus());
        assertEquals("2/2 replicas ready at http://s.ai.svc.cluster.local", cond(s, "Ready").getMessage());
        assertEquals(cond(served, "Ready").getLastTransitionTime(), cond(s, "Ready").getLastTransitionTime());
        assertEquals("False", cond(s, "RuntimeResolved").getStatus());
        assertEquals("True", cond(s, "WeightsAvailable").getStatus());
        assertEquals("pinned", s.runtime, "status names the runtime the kept pods run");
        assertEquals("example.com/pinned:1", s.runtimeImage);

        // the kept pods go away (evicted, crashed): Ready follows them
        GemmaModelStatus down = build(after, observed(before, 0), s, T0.plusSeconds(120));
        assertEquals("False", cond(down, "Ready").getStatus());
        assertEquals("ReplicasNotReady", cond(down, "Ready").getReason());
    }

    @Test
    void a_warning_is_its_own_condition_and_not_a_false_degraded() {
        ModelPlan p = plan(model("s", "source: {uri: \"pvc://m/x.gguf\"}\n"));
        GemmaModelStatus s = build(p, null, null, T0);
        ConditionAssert.assertCondition(s, "Warnings", "True", "SpecWarnings", "no memory estimate: set source.variant");
        ConditionAssert.assertCondition(s, "Degraded", "False", "AsExpected", null);
        assertTrue(!cond(s, "Degraded").getMessage().contains("memory estimate"), cond(s, "Degraded").getMessage());
        ConditionAssert.assertCondition(build(plan(model("s", SMALL)), null, null, T0), "Warnings", "False", null, null);
    }

    @Test
    void a_pod_killed_for_its_memory_is_degraded_and_not_ready_with_that_reason() {
        ModelPlan p = plan(model("s", SMALL));
        var pod = new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName("s-1").endMetadata()
                .withNewStatus().addNewContainerStatus().withName("runtime").withReady(false).withNewLastState()
                .withNewTerminated().withExitCode(137).withReason("OOMKilled").endTerminated().endLastState()
                .endContainerStatus().endStatus().build();
        GemmaModelStatus s = ModelStatus.build(p, new ModelStatus.Observed(observed(p, 1), java.util.List.of(pod), null,
                java.util.List.of()), null, T0);
        ConditionAssert.assertCondition(s, "Degraded", "True", "OOMKilled", "spec.resources.limits.memory");
        ConditionAssert.assertCondition(s, "Ready", "False", "OOMKilled", "OOMKilled");
    }

    @Test
    void a_refused_child_is_one_degraded_line_and_the_rest_of_the_status_stays_true() {
        ModelPlan p = plan(model("s", SMALL));
        var failure = new io.gemmaserving.operator.status.ChildFailures.Failure("Deployment",
                "spec.env[0].name: Required value (the API server refused the Deployment)", "the whole answer");
        GemmaModelStatus s = ModelStatus.build(p, new ModelStatus.Observed(null, java.util.List.of(), null,
                java.util.List.of(failure)), null, T0);
        ConditionAssert.assertCondition(s, "Degraded", "True", "DeploymentRefused",
                "spec.env[0].name: Required value (the API server refused the Deployment)");
        ConditionAssert.assertCondition(s, "RuntimeResolved", "True", null, null);
        assertEquals("builtin-cpu", s.runtime);
    }
}
