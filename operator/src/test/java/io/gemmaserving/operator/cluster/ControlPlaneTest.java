package io.gemmaserving.operator.cluster;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The local control plane itself does what the operator's cluster tests rely on: controllers turn a Deployment into
 * Ready pods on the fake nodes, the scheduler honours GPU capacity and taints, the garbage collector cascades, and the
 * API server enforces Pod Security. If one of these fails, the operator tests' failures would mean nothing.
 */
@Tag("cluster")
@ExtendWith(LocalClusterExtension.class)
class ControlPlaneTest {

    static Deployment deployment(String ns, String name, int replicas, boolean gpu) {
        var container = new io.fabric8.kubernetes.api.model.ContainerBuilder()
                .withName("main").withImage("registry.invalid/none:1")
                .withNewSecurityContext().withRunAsNonRoot(true).withRunAsUser(1001L)
                .withAllowPrivilegeEscalation(false).withNewCapabilities().withDrop("ALL").endCapabilities()
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().endSecurityContext();
        if (gpu) {
            container.withNewResources()
                    .withRequests(Map.of(LocalCluster.GPU_RESOURCE, new Quantity("1")))
                    .withLimits(Map.of(LocalCluster.GPU_RESOURCE, new Quantity("1"))).endResources();
        }
        var spec = new io.fabric8.kubernetes.api.model.PodSpecBuilder().withContainers(container.build());
        if (gpu) {
            spec.addNewToleration().withKey(LocalCluster.GPU_RESOURCE).withOperator("Exists").withEffect("NoSchedule")
                    .endToleration();
        }
        return new DeploymentBuilder()
                .withNewMetadata().withName(name).withNamespace(ns).endMetadata()
                .withNewSpec().withReplicas(replicas)
                .withNewSelector().withMatchLabels(Map.of("app", name)).endSelector()
                .withNewTemplate().withNewMetadata().withLabels(Map.of("app", name)).endMetadata()
                .withSpec(spec.build()).endTemplate()
                .endSpec().build();
    }

    @Test
    void deploymentBecomesReadyPodsAndDeletionCascades(LocalCluster cluster) {
        KubernetesClient k = cluster.admin();
        cluster.createNamespace("cp-deploy", Map.of());
        k.resource(deployment("cp-deploy", "web", 2, false)).create();

        Deployment ready = k.apps().deployments().inNamespace("cp-deploy").withName("web").waitUntilCondition(
                d -> d != null && d.getStatus() != null && Integer.valueOf(2).equals(d.getStatus().getReadyReplicas()),
                90, TimeUnit.SECONDS);
        assertThat(ready.getStatus().getReadyReplicas()).isEqualTo(2);
        List<Pod> pods = k.pods().inNamespace("cp-deploy").withLabel("app", "web").list().getItems();
        assertThat(pods).hasSize(2)
                .allSatisfy(p -> assertThat(p.getSpec().getNodeName()).isEqualTo(LocalCluster.CPU_NODE))
                .allSatisfy(p -> assertThat(p.getStatus().getPhase()).isEqualTo("Running"));

        // Background deletion: the garbage collector removes the ReplicaSet, then its pods, by owner references.
        k.apps().deployments().inNamespace("cp-deploy").withName("web").delete();
        waitFor(() -> k.apps().replicaSets().inNamespace("cp-deploy").withLabel("app", "web").list().getItems()
                .isEmpty() && k.pods().inNamespace("cp-deploy").withLabel("app", "web").list().getItems().isEmpty());
    }

    @Test
    void gpuPodsLandOnTheGpuNodeOnlyAndCapacityIsRespected(LocalCluster cluster) {
        KubernetesClient k = cluster.admin();
        cluster.createNamespace("cp-gpu", Map.of());
        k.resource(deployment("cp-gpu", "gpu", 2, true)).create();

        // One GPU in the pool: one replica runs on the GPU node, the other stays Pending (Insufficient nvidia.com/gpu).
        waitFor(() -> {
            Deployment d = k.apps().deployments().inNamespace("cp-gpu").withName("gpu").get();
            return d.getStatus() != null && Integer.valueOf(1).equals(d.getStatus().getReadyReplicas());
        });
        List<Pod> pods = k.pods().inNamespace("cp-gpu").withLabel("app", "gpu").list().getItems();
        assertThat(pods).hasSize(2);
        assertThat(pods).filteredOn(p -> p.getSpec().getNodeName() != null)
                .singleElement().satisfies(p -> assertThat(p.getSpec().getNodeName()).isEqualTo(LocalCluster.GPU_NODE));
        assertThat(pods).filteredOn(p -> p.getSpec().getNodeName() == null).singleElement()
                .satisfies(p -> assertThat(p.getStatus().getPhase()).isEqualTo("Pending"));

        // A CPU pod never lands on the tainted GPU node.
        k.resource(deployment("cp-gpu", "cpu", 1, false)).create();
        waitFor(() -> !k.pods().inNamespace("cp-gpu").withLabel("app", "cpu").list().getItems().isEmpty()
                && k.pods().inNamespace("cp-gpu").withLabel("app", "cpu").list().getItems().get(0).getSpec()
                .getNodeName() != null);
        assertThat(k.pods().inNamespace("cp-gpu").withLabel("app", "cpu").list().getItems().get(0).getSpec()
                .getNodeName()).isEqualTo(LocalCluster.CPU_NODE);

        // Give the pool's only GPU back: other cluster tests share this cluster.
        k.apps().deployments().inNamespace("cp-gpu").withName("gpu").delete();
        waitFor(() -> k.pods().inNamespace("cp-gpu").withLabel("app", "gpu").list().getItems().isEmpty());
    }

    @Test
    void podSecurityRestrictedIsEnforced(LocalCluster cluster) {
        KubernetesClient k = cluster.admin();
        cluster.createNamespace("cp-restricted", Map.of("pod-security.kubernetes.io/enforce", "restricted"));
        // The ServiceAccount admission plugin needs the namespace's default account, made by the controller manager.
        waitFor(() -> k.serviceAccounts().inNamespace("cp-restricted").withName("default").get() != null);

        Pod loose = new PodBuilder().withNewMetadata().withName("loose").withNamespace("cp-restricted").endMetadata()
                .withNewSpec().addNewContainer().withName("main").withImage("registry.invalid/none:1").endContainer()
                .endSpec().build();
        assertThatThrownBy(() -> k.resource(loose).create())
                .isInstanceOf(KubernetesClientException.class)
                .hasMessageContaining("violates PodSecurity \"restricted:latest\"");

        Pod strict = new PodBuilder(loose).editMetadata().withName("strict").endMetadata()
                .withSpec(deployment("cp-restricted", "x", 1, false).getSpec().getTemplate().getSpec()).build();
        assertThat(k.resource(strict).create().getMetadata().getUid()).isNotBlank();
    }

    /** Polls for up to 90 s (controllers and KWOK act within seconds; the margin is for a loaded 2-core machine). */
    static void waitFor(java.util.function.BooleanSupplier condition) {
        waitFor(condition, () -> "");
    }

    /** As {@link #waitFor(java.util.function.BooleanSupplier)}; on time-out the message ends with {@code state}. */
    static void waitFor(java.util.function.BooleanSupplier condition, java.util.function.Supplier<Object> state) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 90 s; state: " + state.get());
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
