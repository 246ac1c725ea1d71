package io.gemmaserving.operator.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.ConditionAssert;
import io.gemmaserving.operator.InProcessOperator;
import io.gemmaserving.operator.dependent.DeploymentDependent;
import io.gemmaserving.operator.plan.OperatorSettings;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.gemmaserving.operator.cluster.ControlPlaneTest.waitFor;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The operator's reconciler on the real control plane, with the rights its own manifests grant: it runs in this JVM
 * (java-operator-sdk, the same reconciler the Quarkus application registers) on a client authenticated by a token the
 * API server issued to the ServiceAccount of deploy/, never as cluster admin. Models live in a namespace that enforces
 * Pod Security "restricted". KWOK nodes stand in for kubelets, so pods go Ready without running containers.
 *
 * <p>Statuses seen here are written to target/argocd-fixtures/ and checked with the Argo CD health check as they
 * happen; samples/argocd/testdata/reconciled-*.yaml were taken from those dumps.
 */
@Tag("cluster")
@ExtendWith(LocalClusterExtension.class)
class OperatorOnClusterTest {

    static final String MODELS = "models";
    static final Path DUMPS = Path.of("target/argocd-fixtures");
    static InProcessOperator operator;
    static KubernetesClient operatorClient;

    @BeforeAll
    static void startOperator(LocalCluster cluster) throws IOException {
        cluster.installCrds(Repo.root().resolve("crds"));
        DeployManifestsTest.applyDeployManifests(cluster);
        cluster.createNamespace(MODELS, Map.of("pod-security.kubernetes.io/enforce", "restricted"));
        waitFor(() -> cluster.admin().serviceAccounts().inNamespace(MODELS).withName("default").get() != null);
        operatorClient = cluster.clientAs(DeployManifestsTest.NS, DeployManifestsTest.SA);
        operator = InProcessOperator.start(operatorClient, OperatorSettings.defaults());
    }

    @AfterAll
    static void stopOperator() {
        if (operator != null) operator.close();
        if (operatorClient != null) operatorClient.close();
    }

    static GenericKubernetesResource gemmaModel(String name, Map<String, Object> spec) {
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion("serving.gemma.io/v1alpha1");
        r.setKind("GemmaModel");
        r.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).withNamespace(MODELS)
                .build());
        r.setAdditionalProperty("spec", spec);
        return r;
    }

    static Map<String, Object> cpuSpec() {
        return Map.of("source", Map.of("uri", "oci://quay.io/gemma-serving/modelcar-gemma-3-270m-it:q4_k_m",
                "file", "gemma-3-270m-it-Q4_K_M.gguf", "variant", "gemma-3-270m-it"));
    }

    static Resource<GenericKubernetesResource> model(LocalCluster cluster, String name) {
        return cluster.admin().genericKubernetesResources("serving.gemma.io/v1alpha1", "GemmaModel")
                .inNamespace(MODELS).withName(name);
    }

    static Optional<String> condition(GenericKubernetesResource m, String type) {
        return conditionField(m, type, "status");
    }

    static Optional<String> reason(GenericKubernetesResource m, String type) {
        return conditionField(m, type, "reason");
    }

    /** A field ("status", "reason", "message") of the model's condition of this type, if it has one. */
    static Optional<String> conditionField(GenericKubernetesResource m, String type, String field) {
        return ConditionAssert.find(m, type).map(c -> switch (field) {
            case "status" -> c.getStatus();
            case "reason" -> c.getReason();
            case "message" -> c.getMessage();
            default -> throw new IllegalArgumentException(field);
        });
    }

    static long observedGeneration(GenericKubernetesResource m) {
        JsonNode status = new ObjectMapper().valueToTree(m.getAdditionalProperties()).get("status");
        return status == null ? -1 : status.path("observedGeneration").asLong(-1);
    }

    /** Writes the live object for the Lua fixtures and returns what the Argo CD health check says of it. */
    static Map<String, String> health(GenericKubernetesResource m, String dumpName) throws Exception {
        Files.createDirectories(DUMPS);
        Files.writeString(DUMPS.resolve(dumpName + ".yaml"), Serialization.asYaml(m));
        return ArgoCdHealthCheckTest.evaluate(new ObjectMapper().valueToTree(m));
    }

    static Deployment deploymentOf(LocalCluster cluster, String name) {
        // The operator names the Deployment after the model.
        return cluster.admin().apps().deployments().inNamespace(MODELS).withName(name).get();
    }

    @Test
    void cpuModelBecomesReadyPodsInARestrictedNamespaceAndArgoCdSeesHealthy(LocalCluster cluster) throws Exception {
        cluster.admin().resource(gemmaModel("tiny", cpuSpec())).create();

        waitFor(() -> condition(model(cluster, "tiny").get(), "Ready").equals(Optional.of("True")));
        GenericKubernetesResource ready = model(cluster, "tiny").get();
        assertThat(observedGeneration(ready)).isEqualTo(ready.getMetadata().getGeneration());
        assertThat(health(ready, "reconciled-ready")).containsEntry("status", "Healthy");

        Deployment d = deploymentOf(cluster, "tiny");
        assertThat(d.getMetadata().getOwnerReferences()).singleElement()
                .satisfies(o -> assertThat(o.getUid()).isEqualTo(ready.getMetadata().getUid()));
        assertThat(d.getStatus().getReadyReplicas()).isEqualTo(1);
        List<Pod> pods = cluster.admin().pods().inNamespace(MODELS)
                .withLabels(d.getSpec().getSelector().getMatchLabels()).list().getItems();
        // Admitted under "restricted" (the namespace enforces it) and scheduled on the CPU node, never the GPU one.
        assertThat(pods).singleElement().satisfies(p -> {
            assertThat(p.getSpec().getNodeName()).isEqualTo(LocalCluster.CPU_NODE);
            assertThat(p.getStatus().getPhase()).isEqualTo("Running");
        });
    }

    @Test
    void gpuModelLandsOnTheGpuNodeOnly(LocalCluster cluster) throws Exception {
        Map<String, Object> spec = Map.of(
                "source", cpuSpec().get("source"),
                "accelerator", Map.of("type", "nvidia.com/gpu", "product", LocalCluster.GPU_PRODUCT));
        cluster.admin().resource(gemmaModel("on-gpu", spec)).create();
        try {
            waitFor(() -> condition(model(cluster, "on-gpu").get(), "Ready").equals(Optional.of("True")),
                    () -> statusYaml(cluster, "on-gpu"));
            Deployment d = deploymentOf(cluster, "on-gpu");
            var container = d.getSpec().getTemplate().getSpec().getContainers().stream()
                    .filter(c -> c.getResources() != null && c.getResources().getLimits() != null
                            && c.getResources().getLimits().containsKey(LocalCluster.GPU_RESOURCE)).findFirst();
            assertThat(container).as("a container limits nvidia.com/gpu").isPresent();
            List<Pod> pods = cluster.admin().pods().inNamespace(MODELS)
                    .withLabels(d.getSpec().getSelector().getMatchLabels()).list().getItems();
            assertThat(pods).singleElement()
                    .satisfies(p -> assertThat(p.getSpec().getNodeName()).isEqualTo(LocalCluster.GPU_NODE));
        } finally {
            // Free the pool's only GPU for the other tests.
            model(cluster, "on-gpu").delete();
            waitFor(() -> cluster.admin().pods().inNamespace(MODELS).withLabel("serving.gemma.io/model", "on-gpu")
                    .list().getItems().isEmpty());
        }
    }

    @Test
    void scalingThroughTheScaleSubresourceReachesReadyPods(LocalCluster cluster) {
        // spec.replicas is set: the API server answers GET .../scale with a 500 while the specReplicasPath field is
        // absent, so `kubectl scale` (GET then PUT) needs it there.
        Map<String, Object> spec = Map.of("source", cpuSpec().get("source"), "replicas", 1);
        cluster.admin().resource(gemmaModel("scaled", spec)).create();
        try {
            waitFor(() -> condition(model(cluster, "scaled").get(), "Ready").equals(Optional.of("True")),
                    () -> statusYaml(cluster, "scaled"));
            // What `kubectl scale gemmamodel/scaled --replicas=2` and an HPA do: write /scale, not the spec.
            model(cluster, "scaled").scale(2);
            waitFor(() -> {
                JsonNode status = new ObjectMapper().valueToTree(model(cluster, "scaled").get()
                        .getAdditionalProperties()).path("status");
                return status.path("readyReplicas").asInt() == 2;
            }, () -> statusYaml(cluster, "scaled"));
            assertThat(deploymentOf(cluster, "scaled").getStatus().getReadyReplicas()).isEqualTo(2);
        } finally {
            model(cluster, "scaled").delete();
        }
    }

    @Test
    void anAutoscaledModelLeavesTheReplicaCountToItsAutoscaler(LocalCluster cluster) {
        Map<String, Object> spec = Map.of("source", cpuSpec().get("source"),
                "autoscaling", Map.of("minReplicas", 1, "maxReplicas", 3, "mode", "HPA"));
        cluster.admin().resource(gemmaModel("auto", spec)).create();
        try {
            waitFor(() -> condition(model(cluster, "auto").get(), "Ready").equals(Optional.of("True"))
                    && cluster.admin().autoscaling().v2().horizontalPodAutoscalers().inNamespace(MODELS)
                    .withName("auto").get() != null, () -> statusYaml(cluster, "auto"));
            var hpa = cluster.admin().autoscaling().v2().horizontalPodAutoscalers().inNamespace(MODELS)
                    .withName("auto").get();
            assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo("auto");
            assertThat(hpa.getSpec().getMaxReplicas()).isEqualTo(3);

            // The autoscaler's move (no metrics server here, so we make it): the Deployment's /scale to 2.
            cluster.admin().apps().deployments().inNamespace(MODELS).withName("auto").scale(2);
            // Then drift that makes the operator apply the Deployment again: the image is put back...
            editDeployment(cluster, "auto", d -> runtime(d).setImage("registry.invalid/tampered:1"));
            String image = OperatorSettings.defaults().cpuImage();
            waitFor(() -> image.equals(runtime(deploymentOf(cluster, "auto")).getImage()),
                    () -> runtime(deploymentOf(cluster, "auto")).getImage());
            // ...and the replica count stays the autoscaler's, with both pods Ready.
            waitFor(() -> Integer.valueOf(2).equals(deploymentOf(cluster, "auto").getStatus().getReadyReplicas()),
                    () -> deploymentOf(cluster, "auto").getStatus());
            assertThat(deploymentOf(cluster, "auto").getSpec().getReplicas()).isEqualTo(2);
        } finally {
            model(cluster, "auto").delete();
        }
    }

    static GenericKubernetesResource servingRuntime(String name, String image) {
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion("serving.gemma.io/v1alpha1");
        r.setKind("ServingRuntime");
        r.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).withNamespace(MODELS)
                .build());
        // autoSelect false: only models that name it use it, not the other tests' models
        r.setAdditionalProperty("spec", Map.of("image", image,
                "supportedModelFormats", List.of(Map.of("name", "gguf", "autoSelect", false))));
        return r;
    }

    @Test
    void deletingTheNamedRuntimeLeavesTheReadyPodsServing(LocalCluster cluster) throws Exception {
        var runtimes = cluster.admin().genericKubernetesResources("serving.gemma.io/v1alpha1", "ServingRuntime")
                .inNamespace(MODELS);
        runtimes.resource(servingRuntime("pinned-cpu", "quay.io/gemma-serving/gemma-runtime:0.1.0")).create();
        Map<String, Object> spec = Map.of("source", cpuSpec().get("source"), "runtime", "pinned-cpu");
        cluster.admin().resource(gemmaModel("pinned", spec)).create();
        try {
            waitFor(() -> condition(model(cluster, "pinned").get(), "Ready").equals(Optional.of("True")),
                    () -> statusYaml(cluster, "pinned"));
            Deployment before = deploymentOf(cluster, "pinned");
            List<Pod> podsBefore = cluster.admin().pods().inNamespace(MODELS)
                    .withLabel("serving.gemma.io/model", "pinned").list().getItems();
            assertThat(podsBefore).hasSize(1);

            runtimes.withName("pinned-cpu").delete();
            waitFor(() -> reason(model(cluster, "pinned").get(), "Degraded").equals(Optional.of("RuntimeNotFound")),
                    () -> statusYaml(cluster, "pinned"));
            GenericKubernetesResource held = model(cluster, "pinned").get();
            assertThat(condition(held, "Degraded")).isEqualTo(Optional.of("True"));
            // Ready follows the pods that go on running; Argo CD says Degraded: the model is not as specified
            assertThat(condition(held, "Ready")).as(statusYaml(cluster, "pinned")).isEqualTo(Optional.of("True"));
            assertThat(health(held, "reconciled-runtime-missing")).containsEntry("status", "Degraded");
            Deployment kept = deploymentOf(cluster, "pinned");
            assertThat(kept).as("the Deployment outlives its runtime").isNotNull();
            assertThat(kept.getMetadata().getUid()).isEqualTo(before.getMetadata().getUid());
            assertThat(kept.getMetadata().getGeneration()).isEqualTo(before.getMetadata().getGeneration());
            assertThat(cluster.admin().pods().inNamespace(MODELS).withLabel("serving.gemma.io/model", "pinned")
                    .list().getItems()).singleElement().satisfies(p -> {
                        assertThat(p.getMetadata().getUid()).isEqualTo(podsBefore.getFirst().getMetadata().getUid());
                        assertThat(p.getStatus().getPhase()).isEqualTo("Running");
                    });

            // re-created: the model is served by it again, no longer degraded
            runtimes.resource(servingRuntime("pinned-cpu", "quay.io/gemma-serving/gemma-runtime:0.1.1")).create();
            waitFor(() -> condition(model(cluster, "pinned").get(), "Degraded").equals(Optional.of("False"))
                    && "quay.io/gemma-serving/gemma-runtime:0.1.1".equals(runtime(deploymentOf(cluster, "pinned")).getImage()),
                    () -> statusYaml(cluster, "pinned"));
        } finally {
            model(cluster, "pinned").delete();
            runtimes.withName("pinned-cpu").delete();
        }
    }

    @Test
    void theOperatorCarriesOnAcrossAnApiServerRestart(LocalCluster cluster) throws Exception {
        cluster.admin().resource(gemmaModel("survivor", cpuSpec())).create();
        try {
            waitFor(() -> condition(model(cluster, "survivor").get(), "Ready").equals(Optional.of("True")),
                    () -> statusYaml(cluster, "survivor") + pods(cluster));
            String image = runtime(deploymentOf(cluster, "survivor")).getImage();

            cluster.restartApiServer(); // the operator keeps running; its watches break and must come back by themselves

            // drift after the restart is put back: the Deployment informer is watching again
            editDeployment(cluster, "survivor", d -> runtime(d).setImage("registry.invalid/tampered:1"));
            waitFor(() -> image.equals(runtime(deploymentOf(cluster, "survivor")).getImage()),
                    () -> runtime(deploymentOf(cluster, "survivor")).getImage());
            // and a model created after it is served: so is the GemmaModel informer
            cluster.admin().resource(gemmaModel("newcomer", cpuSpec())).create();
            waitFor(() -> condition(model(cluster, "newcomer").get(), "Ready").equals(Optional.of("True")),
                    () -> statusYaml(cluster, "newcomer") + pods(cluster));
        } finally {
            model(cluster, "survivor").delete();
            model(cluster, "newcomer").delete();
        }
    }

    @Test
    void deletingTheModelCascadesToItsChildren(LocalCluster cluster) {
        cluster.admin().resource(gemmaModel("short-lived", cpuSpec())).create();
        waitFor(() -> deploymentOf(cluster, "short-lived") != null
                && cluster.admin().services().inNamespace(MODELS).withName("short-lived").get() != null);

        model(cluster, "short-lived").delete();
        // No finalizer: the garbage collector removes the children through their owner references.
        waitFor(() -> deploymentOf(cluster, "short-lived") == null
                && cluster.admin().services().inNamespace(MODELS).withName("short-lived").get() == null);
    }

    @Test
    void editingTheDeploymentByHandIsUndone(LocalCluster cluster) {
        cluster.admin().resource(gemmaModel("steady", cpuSpec())).create();
        waitFor(() -> deploymentOf(cluster, "steady") != null);
        Deployment desired = deploymentOf(cluster, "steady");
        String image = runtime(desired).getImage();

        // A person edits the Deployment (as admin, another field manager): image and replicas.
        editDeployment(cluster, "steady", d -> {
            d.getSpec().setReplicas(3);
            runtime(d).setImage("registry.invalid/tampered:1");
        });
        waitFor(() -> {
            Deployment d = deploymentOf(cluster, "steady");
            return Integer.valueOf(1).equals(d.getSpec().getReplicas())
                    && image.equals(runtime(d).getImage());
        });
    }

    @Test
    void aModelThatCannotFitIsDegradedAndArgoCdSaysSo(LocalCluster cluster) throws Exception {
        Map<String, Object> spec = Map.of(
                "source", Map.of("uri", "oci://quay.io/gemma-serving/modelcar-gemma-3-27b-it:bf16",
                        "variant", "gemma-3-27b-it"),
                // No tensorParallelSize: the operator looks for one that fits, finds none, and deploys nothing (with an
                // explicit size that does not fit it deploys anyway and only warns with Degraded).
                "accelerator", Map.of("type", "nvidia.com/gpu", "memory", "1Gi"));
        cluster.admin().resource(gemmaModel("too-big", spec)).create();
        try {
            waitFor(() -> condition(model(cluster, "too-big").get(), "Degraded").equals(Optional.of("True")),
                    () -> statusYaml(cluster, "too-big"));
            GenericKubernetesResource degraded = model(cluster, "too-big").get();
            assertThat(condition(degraded, "Ready")).as(statusYaml(cluster, "too-big")).isEqualTo(Optional.of("False"));
            assertThat(deploymentOf(cluster, "too-big")).as("no Deployment for a model that cannot fit").isNull();
            assertThat(health(degraded, "reconciled-degraded")).containsEntry("status", "Degraded");
        } finally {
            model(cluster, "too-big").delete();
        }
    }

    @Test
    void replicasWaitingForAGpuAreProgressingNotHealthy(LocalCluster cluster) throws Exception {
        // Two replicas, one GPU in the pool: one pod runs, the other stays Pending.
        Map<String, Object> spec = Map.of("source", cpuSpec().get("source"), "replicas", 2,
                "accelerator", Map.of("type", "nvidia.com/gpu", "product", LocalCluster.GPU_PRODUCT));
        cluster.admin().resource(gemmaModel("waiting", spec)).create();
        try {
            waitingForAGpu(cluster);
        } finally {
            model(cluster, "waiting").delete();
            waitFor(() -> deploymentOf(cluster, "waiting") == null && cluster.admin().pods().inNamespace(MODELS)
                    .withLabel("serving.gemma.io/model", "waiting").list().getItems().isEmpty());
        }
    }

    private static void waitingForAGpu(LocalCluster cluster) throws Exception {
        waitFor(() -> {
            JsonNode status = new ObjectMapper().valueToTree(model(cluster, "waiting").get().getAdditionalProperties())
                    .path("status");
            return status.path("replicas").asInt() == 2 && status.path("readyReplicas").asInt() == 1;
        }, () -> statusYaml(cluster, "waiting") + "\npods: " + cluster.admin().pods().inAnyNamespace().list().getItems()
                .stream().map(p -> p.getMetadata().getNamespace() + "/" + p.getMetadata().getName() + " on "
                        + p.getSpec().getNodeName() + " " + p.getStatus().getPhase()).toList());
        waitFor(() -> reason(model(cluster, "waiting").get(), "Progressing").equals(Optional.of("Unschedulable")),
                () -> statusYaml(cluster, "waiting"));
        GenericKubernetesResource waiting = model(cluster, "waiting").get();
        // the scheduler's own reason, from the real kube-scheduler: the second pod finds no free GPU
        ConditionAssert.assertCondition(waiting, "Progressing", "True", "Unschedulable", "Insufficient nvidia.com/gpu");
        ConditionAssert.assertCondition(waiting, "Ready", "False", "Unschedulable", "waits for a node");
        ConditionAssert.assertCondition(waiting, "Degraded", "False", null, null);
        assertThat(health(waiting, "reconciled-waiting-for-gpu")).containsEntry("status", "Progressing");
    }

    /** Every pod and node with its state, for failure messages. */
    static String pods(LocalCluster cluster) {
        return "\npods: " + cluster.admin().pods().inAnyNamespace().list().getItems().stream()
                .map(p -> p.getMetadata().getNamespace() + "/" + p.getMetadata().getName() + " on "
                        + p.getSpec().getNodeName() + " " + p.getStatus().getPhase()
                        + (p.getMetadata().getDeletionTimestamp() != null ? " (deleting)" : "")).toList()
                + "\nnodes: " + cluster.admin().nodes().list().getItems().stream()
                .map(n -> n.getMetadata().getName() + " " + n.getStatus().getConditions().stream()
                        .filter(c -> "Ready".equals(c.getType())).map(c -> "Ready=" + c.getStatus()).findFirst()
                        .orElse("?") + " taints " + n.getSpec().getTaints()).toList();
    }

    static String statusYaml(LocalCluster cluster, String name) {
        GenericKubernetesResource m = model(cluster, name).get();
        return m == null ? name + " is gone" : Serialization.asYaml(m.getAdditionalProperties().get("status"));
    }

    /** An edit as a person makes it, retried when the controllers updated the Deployment in between (409). */
    static void editDeployment(LocalCluster cluster, String name, java.util.function.Consumer<Deployment> change) {
        for (int attempt = 1; ; attempt++) {
            try {
                cluster.admin().apps().deployments().inNamespace(MODELS).withName(name).edit(d -> {
                    change.accept(d);
                    return d;
                });
                return;
            } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
                if (e.getCode() != 409 || attempt == 10) throw e;
            }
        }
    }

    static io.fabric8.kubernetes.api.model.Container runtime(Deployment d) {
        return d.getSpec().getTemplate().getSpec().getContainers().stream()
                .filter(c -> DeploymentDependent.RUNTIME_CONTAINER.equals(c.getName())).findFirst().orElseThrow();
    }
}
