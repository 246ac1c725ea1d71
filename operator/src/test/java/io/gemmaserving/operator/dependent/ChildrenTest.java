package io.gemmaserving.operator.dependent;

import static io.gemmaserving.operator.TestModels.model;
import static io.gemmaserving.operator.TestModels.plan;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.gemmaserving.operator.plan.ModelPlan;
import io.gemmaserving.runtime.engine.ServeOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Every desired-state builder, on plans made from YAML as users write it. */
@Tag("unit")
class ChildrenTest {

    static final String SEED_9B = """
            source:
              uri: oci://registry.redhat.io/rhelai1/modelcar-gemma-2-9b-it:1.5
              variant: gemma-2-9b-it
            accelerator: {type: nvidia.com/gpu, product: NVIDIA-A100-SXM4-40GB}
            serving: {maxContextLength: 8192}
            """;

    static Container runtime(Deployment d) {
        return d.getSpec().getTemplate().getSpec().getContainers().getFirst();
    }

    static Volume volume(PodSpec pod, String name) {
        return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst().orElseThrow(
                () -> new AssertionError("no volume " + name));
    }

    @Test
    void the_runtimes_own_cli_parser_accepts_the_args() {
        ModelPlan p = plan(model("g", SEED_9B));
        Deployment d = DeploymentDependent.build(p);
        ServeOptions o = ServeOptions.parse(runtime(d).getArgs().toArray(String[]::new));
        assertEquals(Path.of("/mnt/models"), o.model);
        assertEquals("g", o.servedModelName);
        assertEquals(8080, o.port);
        assertEquals(8192, o.maxContextLength);
        assertEquals(8, o.maxConcurrentSequences);
        assertEquals("cuda", o.backend);
        assertEquals(p.tensorParallelSize, o.tensorParallelSize);
        assertEquals(DeploymentDependent.DRAIN_SECONDS, o.drainTimeoutSeconds);

        ModelPlan cpu = plan(model("c", """
                source: {uri: "pvc://models/gemma/gemma-3-270m-it-Q4_K_M.gguf", variant: gemma-3-270m-it}
                serving: {apiKeySecretRef: {name: keys, key: token}, maxConcurrentSequences: 2}
                """));
        ServeOptions c = ServeOptions.parse(DeploymentDependent.args(cpu).toArray(String[]::new));
        assertEquals(Path.of("/mnt/models/gemma-3-270m-it-Q4_K_M.gguf"), c.model);
        assertEquals(Path.of("/var/run/secrets/gemma/api-key"), c.apiKeyFile);
        assertEquals("cpu", c.backend);
        assertEquals(2, c.maxConcurrentSequences);
    }

    @Test
    void modelcar_sidecar_as_kserve_does_it() {
        Deployment d = DeploymentDependent.build(plan(model("g", SEED_9B)));
        PodSpec pod = d.getSpec().getTemplate().getSpec();
        assertTrue(pod.getShareProcessNamespace());
        // a native sidecar: after modelcar-init, running beside the runtime, which starts once the link is there
        assertEquals(List.of("modelcar-init", "modelcar"), pod.getInitContainers().stream().map(Container::getName).toList());
        Container sidecar = pod.getInitContainers().get(1);
        assertEquals("Always", sidecar.getRestartPolicy());
        assertEquals(List.of("sh", "-c", "[ -e /mnt/models ]"), sidecar.getStartupProbe().getExec().getCommand());
        assertEquals(List.of("runtime"), pod.getContainers().stream().map(Container::getName).toList());
        assertEquals("registry.redhat.io/rhelai1/modelcar-gemma-2-9b-it:1.5", sidecar.getImage());
        // the kubelet turns "$$" into "$": the shell must see "$$", its own PID
        assertEquals(List.of("sh", "-c", "ln -sf /proc/$$$$/root/models /mnt/models && sleep infinity"), sidecar.getCommand());
        assertEquals(new Quantity("10m"), sidecar.getResources().getLimits().get("cpu"));
        assertEquals(new Quantity("15Mi"), sidecar.getResources().getRequests().get("memory"));
        Container init = pod.getInitContainers().getFirst();
        assertEquals("modelcar-init", init.getName());
        assertEquals(sidecar.getImage(), init.getImage());
        assertTrue(init.getCommand().get(2).startsWith("[ -d /models ] && [ \"$(ls -A /models)\" ]"));
        assertTrue(volume(pod, "model-dir").getEmptyDir() != null);
        assertTrue(runtime(d).getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/mnt")));
        assertEquals(1001L, pod.getSecurityContext().getRunAsUser()); // one UID for runtime and sidecar
    }

    @Test
    void image_volume_and_pvc_are_mounted_read_only() {
        Deployment iv = DeploymentDependent.build(plan(model("g", """
                source: {uri: "oci://example.com/gemma-3-1b-it:1", variant: gemma-3-1b-it, modelcar: imageVolume}
                """)));
        PodSpec pod = iv.getSpec().getTemplate().getSpec();
        assertEquals("example.com/gemma-3-1b-it:1", volume(pod, "model").getImage().getReference());
        var mount = runtime(iv).getVolumeMounts().stream().filter(m -> m.getName().equals("model")).findFirst().orElseThrow();
        assertEquals("/mnt/models", mount.getMountPath());
        assertEquals("models", mount.getSubPath());
        assertTrue(mount.getReadOnly());
        assertNull(pod.getShareProcessNamespace());
        assertTrue(pod.getInitContainers().isEmpty());

        Deployment pvc = DeploymentDependent.build(plan(model("c", """
                source: {uri: "pvc://models/gemma/gemma-3-270m-it-Q4_K_M.gguf"}
                """)));
        PodSpec pvcPod = pvc.getSpec().getTemplate().getSpec();
        assertEquals("models", volume(pvcPod, "model").getPersistentVolumeClaim().getClaimName());
        assertTrue(volume(pvcPod, "model").getPersistentVolumeClaim().getReadOnly());
        var pvcMount = runtime(pvc).getVolumeMounts().stream().filter(m -> m.getName().equals("model")).findFirst().orElseThrow();
        assertEquals("gemma", pvcMount.getSubPath());
        assertTrue(pvcMount.getReadOnly());
    }

    @Test
    void every_container_is_restricted_and_the_root_filesystem_read_only() {
        Deployment d = DeploymentDependent.build(plan(model("g", SEED_9B)));
        PodSpec pod = d.getSpec().getTemplate().getSpec();
        assertTrue(pod.getSecurityContext().getRunAsNonRoot());
        assertEquals("RuntimeDefault", pod.getSecurityContext().getSeccompProfile().getType());
        Stream.concat(pod.getContainers().stream(), pod.getInitContainers().stream()).forEach(c -> {
            var sc = c.getSecurityContext();
            assertTrue(sc.getRunAsNonRoot(), c.getName());
            assertFalse(sc.getAllowPrivilegeEscalation(), c.getName());
            assertEquals(List.of("ALL"), sc.getCapabilities().getDrop(), c.getName());
            assertEquals("RuntimeDefault", sc.getSeccompProfile().getType(), c.getName());
            assertTrue(sc.getReadOnlyRootFilesystem(), c.getName());
        });
        assertTrue(runtime(d).getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/tmp")));
        assertTrue(volume(pod, "tmp").getEmptyDir() != null);
    }

    @Test
    void a_failed_container_says_why_in_its_status() {
        PodSpec pod = DeploymentDependent.build(plan(model("g", SEED_9B))).getSpec().getTemplate().getSpec();
        Stream.concat(pod.getContainers().stream(), pod.getInitContainers().stream()).forEach(c ->
                assertEquals("FallbackToLogsOnError", c.getTerminationMessagePolicy(), c.getName()));
    }

    @Test
    void probes_and_drain() {
        Deployment d = DeploymentDependent.build(plan(model("g", SEED_9B)));
        Container c = runtime(d);
        assertEquals("/health/started", c.getStartupProbe().getHttpGet().getPath());
        assertEquals("/health/ready", c.getReadinessProbe().getHttpGet().getPath());
        assertEquals("/health/live", c.getLivenessProbe().getHttpGet().getPath());
        assertEquals("http", c.getReadinessProbe().getHttpGet().getPort().getStrVal());
        assertEquals("http", c.getPorts().getFirst().getName());
        assertEquals(5L, c.getLifecycle().getPreStop().getSleep().getSeconds());
        long grace = d.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds();
        assertTrue(grace > 5 + DeploymentDependent.DRAIN_SECONDS, "grace " + grace + " covers preStop + drain");
    }

    @Test
    void gpus_tolerations_product_selector_and_shm() {
        Deployment one = DeploymentDependent.build(plan(model("g", SEED_9B)));
        PodSpec pod = one.getSpec().getTemplate().getSpec();
        assertEquals(new Quantity("1"), runtime(one).getResources().getRequests().get("nvidia.com/gpu"));
        assertEquals(new Quantity("1"), runtime(one).getResources().getLimits().get("nvidia.com/gpu"));
        assertTrue(pod.getTolerations().stream().anyMatch(t -> t.getKey().equals("nvidia.com/gpu")
                && t.getOperator().equals("Exists") && t.getEffect().equals("NoSchedule")));
        assertEquals(Map.of("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB"), pod.getNodeSelector());
        assertTrue(pod.getVolumes().stream().noneMatch(v -> v.getName().equals("dshm")));

        Deployment two = DeploymentDependent.build(plan(model("g", """
                source: {uri: "oci://example.com/gemma-2-27b-it:1", variant: gemma-2-27b-it}
                accelerator: {type: nvidia.com/gpu, product: NVIDIA-A100-SXM4-40GB}
                serving: {maxContextLength: 8192, maxConcurrentSequences: 4}
                nodeSelector: {zone: a}
                """)));
        PodSpec pod2 = two.getSpec().getTemplate().getSpec();
        assertEquals(new Quantity("2"), runtime(two).getResources().getLimits().get("nvidia.com/gpu"));
        assertEquals("Memory", volume(pod2, "dshm").getEmptyDir().getMedium());
        assertEquals(Map.of("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB", "zone", "a"), pod2.getNodeSelector());
        assertTrue(runtime(two).getArgs().contains("--tensor-parallel-size=2"));

        Deployment cpu = DeploymentDependent.build(plan(model("c", "source: {uri: \"pvc://m/x.gguf\"}")));
        assertTrue(cpu.getSpec().getTemplate().getSpec().getTolerations().isEmpty());
        assertNull(runtime(cpu).getResources().getRequests().get("nvidia.com/gpu"));
    }

    @Test
    void owner_reference_labels_replicas_and_env_merge() {
        ModelPlan p = plan(model("g", """
                source: {uri: "pvc://m/x.gguf"}
                replicas: 3
                env: [{name: LOG_LEVEL, value: debug}]
                """), io.gemmaserving.operator.TestModels.runtime("r", """
                image: example.com/r:1
                env: [{name: LOG_LEVEL, value: info}, {name: A, value: b}]
                """));
        Deployment d = DeploymentDependent.build(p);
        var owner = d.getMetadata().getOwnerReferences().getFirst();
        assertEquals("GemmaModel", owner.getKind());
        assertEquals("serving.gemma.io/v1alpha1", owner.getApiVersion());
        assertTrue(owner.getController());
        assertEquals(3, d.getSpec().getReplicas());
        assertEquals(Map.of("serving.gemma.io/model", "g"), d.getSpec().getSelector().getMatchLabels());
        assertEquals("g", d.getSpec().getTemplate().getMetadata().getLabels().get("serving.gemma.io/model"));
        var env = runtime(d).getEnv();
        assertEquals("debug", env.stream().filter(e -> e.getName().equals("LOG_LEVEL")).findFirst().orElseThrow().getValue());
        assertEquals(1, env.stream().filter(e -> e.getName().equals("LOG_LEVEL")).count());
        assertTrue(env.stream().anyMatch(e -> e.getName().equals("A")));

        Deployment scaled = DeploymentDependent.build(plan(model("a", """
                source: {uri: "pvc://m/x.gguf"}
                autoscaling: {maxReplicas: 3}
                """)));
        assertNull(scaled.getSpec().getReplicas(), "the HPA owns replicas");
    }

    @Test
    void service_hpa_pdb() {
        ModelPlan p = plan(model("g", """
                source: {uri: "pvc://m/x.gguf"}
                autoscaling: {minReplicas: 2, maxReplicas: 6, targetQueueDepth: 3, scaleDownStabilizationSeconds: 120}
                """));
        var svc = ServiceDependent.build(p);
        assertEquals("ClusterIP", svc.getSpec().getType());
        assertEquals("http", svc.getSpec().getPorts().getFirst().getName());
        assertEquals("http", svc.getSpec().getPorts().getFirst().getTargetPort().getStrVal());
        assertEquals(Map.of("serving.gemma.io/model", "g"), svc.getSpec().getSelector());
        assertEquals("http://g.ai.svc.cluster.local", p.endpoint);

        var hpa = HorizontalPodAutoscalerDependent.build(p);
        assertEquals("Deployment", hpa.getSpec().getScaleTargetRef().getKind());
        assertEquals("g", hpa.getSpec().getScaleTargetRef().getName());
        assertEquals(2, hpa.getSpec().getMinReplicas());
        assertEquals(6, hpa.getSpec().getMaxReplicas());
        var metric = hpa.getSpec().getMetrics().getFirst();
        assertEquals("Pods", metric.getType());
        assertEquals("gemma_requests_waiting", metric.getPods().getMetric().getName());
        assertEquals("AverageValue", metric.getPods().getTarget().getType());
        assertEquals(new Quantity("3"), metric.getPods().getTarget().getAverageValue());
        assertEquals(120, hpa.getSpec().getBehavior().getScaleDown().getStabilizationWindowSeconds());

        var pdb = PodDisruptionBudgetDependent.build(p);
        assertEquals(1, pdb.getSpec().getMaxUnavailable().getIntVal());
        assertEquals(Map.of("serving.gemma.io/model", "g"), pdb.getSpec().getSelector().getMatchLabels());
    }

    @Test
    @SuppressWarnings("unchecked")
    void keda_route_servicemonitor() {
        ModelPlan p = plan(model("g", """
                source: {uri: "pvc://m/x.gguf"}
                autoscaling: {minReplicas: 0, maxReplicas: 5, mode: KEDA}
                """));
        var so = ScaledObjectDependent.build(p);
        assertEquals("keda.sh/v1alpha1", so.getApiVersion());
        assertEquals("ScaledObject", so.getKind());
        var spec = (Map<String, Object>) so.getAdditionalProperties().get("spec");
        assertEquals(0, spec.get("minReplicaCount"));
        assertEquals(5, spec.get("maxReplicaCount"));
        var trigger = ((List<Map<String, Object>>) spec.get("triggers")).getFirst();
        assertEquals("prometheus", trigger.get("type"));
        var md = (Map<String, Object>) trigger.get("metadata");
        assertEquals("sum(gemma_requests_waiting{namespace=\"ai\",service=\"g\"})", md.get("query"));
        assertEquals("5", md.get("threshold"));
        assertEquals("http://prometheus.monitoring.svc:9090", md.get("serverAddress"));

        var route = RouteDependent.build(p);
        var rspec = (Map<String, Object>) route.getAdditionalProperties().get("spec");
        assertEquals("g", ((Map<String, Object>) rspec.get("to")).get("name"));
        assertEquals("edge", ((Map<String, Object>) rspec.get("tls")).get("termination"));
        route.getAdditionalProperties().put("status", Map.of("ingress", List.of(Map.of("host", "g-ai.apps.example.com"))));
        assertEquals("https://g-ai.apps.example.com", RouteDependent.url(route).orElseThrow());

        var sm = ServiceMonitorDependent.build(p);
        var smSpec = (Map<String, Object>) sm.getAdditionalProperties().get("spec");
        assertEquals(Map.of("matchLabels", Map.of("serving.gemma.io/model", "g")), smSpec.get("selector"));
        assertEquals("http", ((List<Map<String, Object>>) smSpec.get("endpoints")).getFirst().get("port"));
    }
}
