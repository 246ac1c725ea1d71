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
import java.time.Instant;
import org.junit.jupiter.api.Test;

class StatusBuilderTest {

    static final String SMALL = "source: {uri: \"pvc://m/gemma-3-270m-it-Q4_K_M.gguf\", variant: gemma-3-270m-it}\nreplicas: 2\n";
    static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");

    static Condition cond(GemmaModelStatus s, String type) {
        return s.conditions.stream().filter(c -> c.getType().equals(type)).findFirst().orElseThrow();
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
        GemmaModelStatus creating = StatusBuilder.build(p, null, null, null, T0);
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

        GemmaModelStatus half = StatusBuilder.build(p, observed(p, 1), null, creating, T0.plusSeconds(60));
        assertEquals("False", cond(half, "Ready").getStatus());
        assertEquals("1/2 replicas ready", cond(half, "Ready").getMessage());
        assertEquals("True", cond(half, "WeightsAvailable").getStatus());
        // unchanged status keeps its transition time
        assertEquals(cond(creating, "Ready").getLastTransitionTime(), cond(half, "Ready").getLastTransitionTime());

        GemmaModelStatus ready = StatusBuilder.build(p, observed(p, 2), null, half, T0.plusSeconds(120));
        assertEquals("True", cond(ready, "Ready").getStatus());
        assertEquals("AllReplicasReady", cond(ready, "Ready").getReason());
        assertEquals("False", cond(ready, "Progressing").getStatus());
        assertEquals("2026-11-23T10:02:00Z", cond(ready, "Ready").getLastTransitionTime());
        assertEquals(2, ready.readyReplicas);
        assertTrue(StatusBuilder.sameIgnoringTimes(ready,
                StatusBuilder.build(p, observed(p, 2), null, null, T0.plusSeconds(999))));
    }

    @Test
    void a_blocking_problem_is_degraded_and_not_ready_with_its_reason() {
        ModelPlan p = plan(model("s", SMALL.replace("replicas: 2", "runtime: missing")));
        GemmaModelStatus s = StatusBuilder.build(p, null, null, null, T0);
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
        GemmaModelStatus served = StatusBuilder.build(before, running, null, null, T0);
        assertEquals("True", cond(served, "Ready").getStatus());

        ModelPlan after = plan(model("s", SMALL + "runtime: pinned\n")); // the runtime no longer exists
        GemmaModelStatus s = StatusBuilder.build(after, running, null, served, T0.plusSeconds(60));
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
        GemmaModelStatus down = StatusBuilder.build(after, observed(before, 0), null, s, T0.plusSeconds(120));
        assertEquals("False", cond(down, "Ready").getStatus());
        assertEquals("ReplicasNotReady", cond(down, "Ready").getReason());
    }
}
