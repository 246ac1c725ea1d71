package io.gemmaserving.operator.apiserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.ConditionAssert;
import io.gemmaserving.operator.InProcessOperator;
import io.gemmaserving.operator.TestModels;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.runtime.engine.ServeOptions;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The reconciler in a plain JOSDK Operator against a real API server (no controllers: Deployments get no pods here,
 * the cluster tests add those), running as the operator's ServiceAccount with exactly the RBAC of
 * src/main/kubernetes/kubernetes.yml, so a missing rule fails here.
 */
@Tag("apiserver")
class OperatorOnApiServerTest {

    static KubernetesClient admin;
    static KubernetesClient asOperator;
    static InProcessOperator operator;
    static String ns;

    @BeforeAll
    static void start() {
        admin = ApiServer.client();
        asOperator = ApiServer.asOperator();
        ns = ApiServer.namespace("operator");
        operator = InProcessOperator.start(asOperator, TestModels.SETTINGS);
    }

    @AfterAll
    static void stop() {
        if (operator != null) {
            operator.close();
        }
        if (asOperator != null) {
            asOperator.close();
        }
    }

    static <T> T await(String what, Supplier<T> probe) {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < end) {
            T value = probe.get();
            if (value != null && !Boolean.FALSE.equals(value)) {
                return value;
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("timed out waiting for " + what);
    }

    static GemmaModel create(String name, String spec) {
        GemmaModel m = Serialization.unmarshal("""
                apiVersion: serving.gemma.io/v1alpha1
                kind: GemmaModel
                metadata: {name: %s}
                spec:
                %s
                """.formatted(name, spec.indent(2)), GemmaModel.class);
        return admin.resource(m).inNamespace(ns).create();
    }

    static GemmaModel get(String name) {
        return admin.resources(GemmaModel.class).inNamespace(ns).withName(name).get();
    }

    static Condition condition(GemmaModel m, String type) {
        return ConditionAssert.find(m, type).orElse(null);
    }

    static Deployment deployment(String name) {
        return admin.apps().deployments().inNamespace(ns).withName(name).get();
    }

    @Test
    void modelBecomesDeploymentAndServiceWithStatusAndNoSpecDefaults() {
        GemmaModel created = create("small", """
                source: {uri: "pvc://models/gemma/gemma-3-270m-it-Q4_K_M.gguf", variant: gemma-3-270m-it}
                """);
        String specBefore = Serialization.asJson(created.getSpec());
        Deployment d = await("deployment", () -> deployment("small"));
        assertEquals("GemmaModel", d.getMetadata().getOwnerReferences().getFirst().getKind());
        assertEquals(created.getMetadata().getUid(), d.getMetadata().getOwnerReferences().getFirst().getUid());
        ServeOptions.parse(d.getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs().toArray(String[]::new));
        assertNotNull(await("service", () -> admin.services().inNamespace(ns).withName("small").get()));

        GemmaModel m = await("status", () -> {
            GemmaModel g = get("small");
            return condition(g, "Ready") != null ? g : null;
        });
        assertEquals(m.getMetadata().getGeneration(), m.getStatus().observedGeneration);
        assertEquals("False", condition(m, "Ready").getStatus()); // no controllers here: no pods become ready
        assertEquals("True", condition(m, "Progressing").getStatus());
        assertEquals("False", condition(m, "Degraded").getStatus());
        assertEquals("True", condition(m, "RuntimeResolved").getStatus());
        assertEquals("builtin-cpu", m.getStatus().runtime);
        assertEquals("http://small." + ns + ".svc.cluster.local", m.getStatus().endpoint);
        assertEquals(specBefore, Serialization.asJson(m.getSpec()), "the operator wrote into spec");
    }

    @Test
    void driftOnTheDeploymentIsPutBack() {
        create("drift", "source: {uri: \"pvc://models/x.gguf\"}");
        Deployment d = await("deployment", () -> deployment("drift"));
        String image = d.getSpec().getTemplate().getSpec().getContainers().getFirst().getImage();
        admin.apps().deployments().inNamespace(ns).withName("drift").edit(x -> {
            x.getSpec().getTemplate().getSpec().getContainers().getFirst().setImage("example.com/tampered:1");
            x.getSpec().getTemplate().getSpec().getContainers().getFirst().getSecurityContext().setReadOnlyRootFilesystem(false);
            return x;
        });
        await("image put back", () -> {
            var c = deployment("drift").getSpec().getTemplate().getSpec().getContainers().getFirst();
            return image.equals(c.getImage()) && c.getSecurityContext().getReadOnlyRootFilesystem();
        });
    }

    @Test
    void replicasBringAPodDisruptionBudgetAndScaleSubresourceWorks() {
        create("scaled", "source: {uri: \"pvc://models/x.gguf\"}\nreplicas: 1");
        await("deployment", () -> deployment("scaled"));
        assertNull(admin.resources(PodDisruptionBudget.class).inNamespace(ns).withName("scaled").get());
        admin.resources(GemmaModel.class).inNamespace(ns).withName("scaled").scale(3); // kubectl scale gm scaled --replicas=3
        await("3 replicas", () -> Integer.valueOf(3).equals(deployment("scaled").getSpec().getReplicas()));
        await("pdb", () -> admin.resources(PodDisruptionBudget.class).inNamespace(ns).withName("scaled").get());
        admin.resources(GemmaModel.class).inNamespace(ns).withName("scaled").scale(1);
        await("pdb removed", () -> admin.resources(PodDisruptionBudget.class).inNamespace(ns).withName("scaled").get() == null);
    }

    @Test
    void aNewServingRuntimeIsPickedUpByModelsInItsNamespace() {
        create("switch", "source: {uri: \"pvc://models/x.gguf\"}");
        await("builtin image", () -> deployment("switch"));
        ServingRuntime r = TestModels.runtime("java-cpu", "image: example.com/custom-runtime:2\n"
                + "supportedModelFormats: [{name: gguf}]\nargs: [\"--threads=2\"]");
        r.getMetadata().setNamespace(ns);
        admin.resource(r).create();
        Deployment d = await("runtime image", () -> {
            Deployment x = deployment("switch");
            return x.getSpec().getTemplate().getSpec().getContainers().getFirst().getImage()
                    .equals("example.com/custom-runtime:2") ? x : null;
        });
        assertTrue(d.getSpec().getTemplate().getSpec().getContainers().getFirst().getArgs().contains("--threads=2"));
        await("status runtime", () -> "java-cpu".equals(get("switch").getStatus().runtime));
    }

    static String image(Deployment d) {
        return d.getSpec().getTemplate().getSpec().getContainers().getFirst().getImage();
    }

    @Test
    void deletingTheNamedRuntimeKeepsTheDeploymentUntouchedAndSaysWhichRuntimeToCreate() {
        // autoSelect false: only models that name it use it (the other tests' models in this namespace do not)
        String runtimeSpec = "image: example.com/pinned-runtime:%d\nsupportedModelFormats: [{name: gguf, autoSelect: false}]";
        ServingRuntime r = TestModels.runtime("pinned-rt", runtimeSpec.formatted(1));
        r.getMetadata().setNamespace(ns);
        admin.resource(r).create();
        create("pinned", "source: {uri: \"pvc://models/x.gguf\"}\nruntime: pinned-rt\nreplicas: 2");
        Deployment before = await("deployment on the named runtime", () -> {
            Deployment d = deployment("pinned");
            return d != null && image(d).equals("example.com/pinned-runtime:1") ? d : null;
        });
        await("pdb", () -> admin.resources(PodDisruptionBudget.class).inNamespace(ns).withName("pinned").get());

        admin.resources(ServingRuntime.class).inNamespace(ns).withName("pinned-rt").delete();
        GemmaModel m = await("RuntimeNotFound", () -> {
            GemmaModel g = get("pinned");
            Condition c = condition(g, "Degraded");
            return c != null && "True".equals(c.getStatus()) && "RuntimeNotFound".equals(c.getReason()) ? g : null;
        });
        String message = condition(m, "Degraded").getMessage();
        assertTrue(message.contains("ServingRuntime 'pinned-rt' does not exist") && message.contains("create it"), message);
        assertTrue(message.contains("Deployment 'pinned' is kept"), message);
        // a spec change made while the runtime is missing waits for it; the Deployment is not rebuilt or deleted
        admin.resources(GemmaModel.class).inNamespace(ns).withName("pinned").edit(g -> {
            g.getSpec().replicas = 3;
            return g;
        });
        await("generation observed", () -> {
            GemmaModel g = get("pinned");
            return g.getStatus().observedGeneration == g.getMetadata().getGeneration().longValue();
        });
        Deployment kept = deployment("pinned");
        assertNotNull(kept, "the Deployment was deleted with its runtime");
        assertEquals(before.getMetadata().getUid(), kept.getMetadata().getUid());
        assertEquals(before.getMetadata().getGeneration(), kept.getMetadata().getGeneration(), "the Deployment was changed");
        assertNotNull(admin.services().inNamespace(ns).withName("pinned").get());
        assertNotNull(admin.resources(PodDisruptionBudget.class).inNamespace(ns).withName("pinned").get());
        assertEquals("pinned-rt", get("pinned").getStatus().runtime);

        // the runtime comes back (a new image): reconciliation resumes with it and the waiting spec change
        ServingRuntime back = TestModels.runtime("pinned-rt", runtimeSpec.formatted(2));
        back.getMetadata().setNamespace(ns);
        admin.resource(back).create();
        await("new runtime image and replicas", () -> {
            Deployment d = deployment("pinned");
            return image(d).equals("example.com/pinned-runtime:2") && Integer.valueOf(3).equals(d.getSpec().getReplicas());
        });
        await("not degraded", () -> "False".equals(condition(get("pinned"), "Degraded").getStatus()));
        assertEquals(before.getMetadata().getUid(), deployment("pinned").getMetadata().getUid());
    }

    @Test
    void aModelThatFitsNowhereIsDegradedWithAnEventAndNoDeployment() {
        create("too-big", """
                source: {uri: "oci://example.com/gemma-3-27b-it:1", variant: gemma-3-27b-it}
                accelerator: {type: nvidia.com/gpu, product: Tesla-T4}
                serving: {maxContextLength: 131072}
                """);
        GemmaModel m = await("degraded", () -> {
            GemmaModel g = get("too-big");
            Condition c = condition(g, "Degraded");
            return c != null && "True".equals(c.getStatus()) ? g : null;
        });
        assertEquals("InsufficientGpuMemory", condition(m, "Degraded").getReason());
        assertTrue(condition(m, "Degraded").getMessage().contains("maxContextLength <="));
        assertEquals("False", condition(m, "Ready").getStatus());
        await("warning event", () -> admin.v1().events().inNamespace(ns).list().getItems().stream()
                .anyMatch(e -> "too-big".equals(e.getInvolvedObject().getName()) && "Warning".equals(e.getType())));
        assertNull(deployment("too-big"));
        // fixing the spec clears it
        admin.resources(GemmaModel.class).inNamespace(ns).withName("too-big").edit(g -> {
            g.getSpec().serving.maxContextLength = 8192;
            return g;
        });
        await("deployment after fix", () -> deployment("too-big"));
        await("not degraded", () -> "False".equals(condition(get("too-big"), "Degraded").getStatus()));
    }

    @Test
    void autoscaledModelGetsAnHpaAndTheDeploymentNoReplicaCount() {
        create("auto", "source: {uri: \"pvc://models/x.gguf\"}\nautoscaling: {minReplicas: 2, maxReplicas: 5, mode: KEDA}");
        await("hpa (KEDA absent: HPA fallback)", () -> admin.autoscaling().v2().horizontalPodAutoscalers()
                .inNamespace(ns).withName("auto").get());
        Deployment d = deployment("auto");
        assertFalse(d.getMetadata().getManagedFields().stream().anyMatch(f -> f.getManager().contains("gemmamodel")
                && Serialization.asJson(f.getFieldsV1()).contains("\"f:replicas\"")), "the operator owns no replicas");
        await("warning in status", () -> condition(get("auto"), "Warnings") != null
                && condition(get("auto"), "Warnings").getMessage().contains("KEDA is not installed"));
        ConditionAssert.assertCondition(get("auto"), "Degraded", "False", "AsExpected", null);
    }

    /**
     * A spec the CRD admits but the API server refuses in the Deployment built from it: one line in status naming the
     * model's field, the API server's whole answer in an Event, no stack trace; fixing the spec clears it.
     */
    @Test
    void aRefusedDeploymentIsOneLineNamingTheModelsFieldAndFixingItClearsIt() {
        create("refused", """
                source: {uri: "pvc://models/x.gguf"}
                env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
                nodeSelector: {"bad key!": x}
                """);
        GemmaModel m = await("degraded", () -> {
            GemmaModel g = get("refused");
            Condition c = condition(g, "Degraded");
            return c != null && "True".equals(c.getStatus()) ? g : null;
        });
        Condition c = ConditionAssert.assertCondition(m, "Degraded", "True", "DeploymentRefused",
                "(the API server refused the Deployment)");
        assertTrue(c.getMessage().contains("spec.env[0].valueFrom: Invalid value"), c.getMessage());
        assertTrue(c.getMessage().contains("spec.nodeSelector: Invalid value"), c.getMessage());
        assertEquals(1, c.getMessage().lines().count(), c.getMessage());
        ConditionAssert.assertCondition(m, "Ready", "False", null, null);
        m.getStatus().conditions.forEach(ConditionAssert::assertNoStackTrace);
        await("warning event with the API server's answer", () -> admin.v1().events().inNamespace(ns).list().getItems()
                .stream().anyMatch(e -> "refused".equals(e.getInvolvedObject().getName())
                        && "DeploymentRefused".equals(e.getReason()) && e.getMessage().contains("is invalid")));
        assertNull(deployment("refused"));

        admin.resources(GemmaModel.class).inNamespace(ns).withName("refused").edit(g -> {
            g.getSpec().env.getFirst().setValueFrom(null);
            g.getSpec().nodeSelector = null;
            return g;
        });
        await("deployment after the fix", () -> deployment("refused"));
        await("not degraded", () -> "False".equals(condition(get("refused"), "Degraded").getStatus()));
    }

    /**
     * The pods' own status reaches the model's: pods made here as the kubelet would report them (this API server has
     * no kubelet), labelled as the Deployment's pods are.
     */
    @Test
    void whatThePodsReportBecomesTheModelsStatus() {
        create("podtruth", "source: {uri: \"pvc://models/x.gguf\"}");
        await("deployment", () -> deployment("podtruth"));
        if (admin.serviceAccounts().inNamespace(ns).withName("default").get() == null) {
            admin.serviceAccounts().inNamespace(ns).resource(new io.fabric8.kubernetes.api.model.ServiceAccountBuilder()
                    .withNewMetadata().withName("default").endMetadata().build()).create();
        }
        var template = deployment("podtruth").getSpec().getTemplate();
        Pod pod = admin.pods().inNamespace(ns).resource(new PodBuilder().withNewMetadata().withName("podtruth-1")
                .withLabels(template.getMetadata().getLabels()).endMetadata()
                .withSpec(template.getSpec()).build()).create();
        pod.setStatus(new PodStatusBuilder().withPhase("Pending").addNewContainerStatus().withName("runtime")
                .withImage("example.com/gemma-runtime:cpu").withImageID("").withReady(false).withRestartCount(0)
                .withNewState().withNewWaiting().withReason("ImagePullBackOff")
                .withMessage("Back-off pulling image \"example.com/gemma-runtime:cpu\": not found").endWaiting().endState()
                .endContainerStatus().build());
        admin.pods().inNamespace(ns).resource(pod).updateStatus();
        GemmaModel m = await("ImagePullBackOff", () -> {
            GemmaModel g = get("podtruth");
            Condition c = condition(g, "Degraded");
            return c != null && "ImagePullBackOff".equals(c.getReason()) ? g : null;
        });
        ConditionAssert.assertCondition(m, "Degraded", "True", "ImagePullBackOff", "example.com/gemma-runtime:cpu");
        ConditionAssert.assertCondition(m, "Ready", "False", "ImagePullBackOff", "not found");

        Pod pulled = admin.pods().inNamespace(ns).withName("podtruth-1").get();
        pulled.setStatus(new PodStatusBuilder().withPhase("Running").addNewContainerStatus().withName("runtime")
                .withImage("example.com/gemma-runtime:cpu").withImageID("").withReady(false).withRestartCount(2)
                .withNewState().withNewWaiting().withReason("CrashLoopBackOff").endWaiting().endState()
                .withNewLastState().withNewTerminated().withExitCode(1).withReason("Error")
                .withMessage("starting\nerror: /mnt/models/x.gguf: not a GGUF file (magic 0x00000000)\n").endTerminated()
                .endLastState().endContainerStatus().build());
        admin.pods().inNamespace(ns).resource(pulled).updateStatus();
        GemmaModel crashing = await("CrashLoopBackOff", () -> {
            GemmaModel g = get("podtruth");
            Condition c = condition(g, "Degraded");
            return c != null && "CrashLoopBackOff".equals(c.getReason()) ? g : null;
        });
        ConditionAssert.assertCondition(crashing, "Degraded", "True", "CrashLoopBackOff",
                "error: /mnt/models/x.gguf: not a GGUF file (magic 0x00000000)");
        admin.pods().inNamespace(ns).withName("podtruth-1").withGracePeriod(0).delete();
        await("pod gone, not degraded", () -> "False".equals(condition(get("podtruth"), "Degraded").getStatus()));
    }
}
