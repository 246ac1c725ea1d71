package io.gemmaserving.operator.node;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.gemmaserving.operator.node.NodeExtension.NodeCluster;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static io.gemmaserving.operator.node.NodeModels.JSON;
import static io.gemmaserving.operator.node.NodeModels.condition;
import static io.gemmaserving.operator.node.NodeModels.isTrue;
import static io.gemmaserving.operator.node.NodeModels.pods;
import static io.gemmaserving.operator.node.NodeModels.podReady;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Gemma 3 270M served by real pods on a real node: the operator runs in the cluster (deploy/, its image and
 * ServiceAccount), the runtime and modelcar images come from the local registry, the namespace enforces Pod Security
 * "restricted" and hands out UIDs from an OpenShift-style range. Requests go from this host to the Service's ClusterIP
 * through kube-proxy's rules. Figures (apply to Ready, memory against the limit) go to target/node-figures.txt.
 */
@Tag("node")
@ExtendWith(NodeExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServingOnNodeTest {

    static final String NS = "node-models";
    static final String SIDECAR = "sidecar";
    /** Loading, warm-up (up to 30 s) and the first image pull on shared cores: minutes, not seconds. */
    static final Duration READY_TIMEOUT = Duration.ofMinutes(10);
    static final Duration REQUEST_TIMEOUT = Duration.ofMinutes(2);
    static final Path FIGURES = Path.of("target/node-figures.txt");

    @BeforeAll
    static void namespace(NodeCluster env) throws Exception {
        NodeModels.namespace(env.admin(), NS);
        env.admin().serviceAccounts().inNamespace(NS).withName("default")
                .waitUntilCondition(sa -> sa != null, 60, TimeUnit.SECONDS);
    }

    static void figure(String line) throws Exception {
        System.out.println("node figure: " + line);
        Files.createDirectories(FIGURES.getParent());
        Files.writeString(FIGURES, line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    static String chatBody(String model, String content, int maxTokens) {
        return JSON.createObjectNode().put("model", model).put("max_tokens", maxTokens).put("temperature", 0)
                .set("messages", JSON.createArrayNode().add(JSON.createObjectNode().put("role", "user")
                        .put("content", content))).toString();
    }

    static String completionBody(String model, String prompt, int maxTokens, boolean stream) {
        return JSON.createObjectNode().put("model", model).put("prompt", prompt).put("max_tokens", maxTokens)
                .put("temperature", 0).put("stream", stream).toString();
    }

    /** A chat completion through the Service: 200 and a non-empty answer. */
    static void chats(KubernetesClient k, String model) throws Exception {
        URI svc = NodeModels.serviceUri(k, NS, model);
        HttpResponse<String> r = NodeModels.post(svc, "/v1/chat/completions",
                chatBody(model, "In one sentence, what is Kubernetes?", 16), REQUEST_TIMEOUT);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode answer = JSON.readTree(r.body());
        assertThat(answer.path("choices").path(0).path("message").path("content").asText()).isNotBlank();
        assertThat(answer.path("usage").path("completion_tokens").asInt()).isPositive();
    }

    /** How the kubelet got the pod's images, from its events: "pulled: a, b; cached: c". */
    static String pulls(KubernetesClient k, Pod pod) {
        List<String> pulled = new ArrayList<>();
        List<String> cached = new ArrayList<>();
        for (var e : k.v1().events().inNamespace(NS)
                .withField("involvedObject.name", pod.getMetadata().getName()).list().getItems()) {
            if (!"Pulled".equals(e.getReason())) continue;
            String image = e.getMessage().replaceFirst("^[^\"]*\"([^\"]+)\".*$", "$1");
            (e.getMessage().contains("already present") ? cached : pulled).add(image.replaceFirst("^.*/", "")
                    + (e.getMessage().contains(" in ") ? " (" + e.getMessage().replaceFirst("^.* in ([^ ]+).*$", "$1") + ")" : ""));
        }
        return "pulled: " + (pulled.isEmpty() ? "none" : String.join(", ", pulled))
                + "; cached: " + (cached.isEmpty() ? "none" : String.join(", ", cached));
    }

    static Pod readyPod(KubernetesClient k, String model) {
        List<Pod> ready = pods(k, NS, model).stream().filter(NodeModels::podReady).toList();
        assertThat(ready).as("ready pods of " + model).hasSize(1);
        return ready.get(0);
    }

    @Test
    @Order(1)
    void sidecarModelcarTurnsReadyOnlyAfterTheReadinessProbeAndServesThroughTheService(NodeCluster env)
            throws Exception {
        KubernetesClient k = env.admin();
        NodeModels.create(k, NS, SIDECAR, NodeModels.spec(NodeModels.modelcar("sidecar")));
        NodeModels.Watched w = NodeModels.watch(k, NS, SIDECAR, m -> isTrue(m, "Ready"), READY_TIMEOUT);
        assertThat(w.violations()).as("Ready before a pod passed its readiness probe").isEmpty();
        assertThat(w.sawNotReady()).as("the model was not Ready while its pod started").isTrue();
        Pod pod = readyPod(k, SIDECAR);
        figure("sidecar modelcar: apply -> Ready " + w.millis() / 1000.0 + " s (" + RealNode.NAME + "; "
                + pulls(k, pod) + ")");

        assertThat(pod.getSpec().getNodeName()).isEqualTo(RealNode.NAME);
        assertThat(pod.getStatus().getPodIP()).as("an address from the CNI bridge").startsWith("10.88.");
        chats(k, SIDECAR);

        List<String> data = NodeModels.stream(NodeModels.serviceUri(k, NS, SIDECAR), "/v1/completions",
                completionBody(SIDECAR, "The three largest planets of the solar system are", 16, true), REQUEST_TIMEOUT);
        assertThat(data).last().isEqualTo("[DONE]");
        StringBuilder text = new StringBuilder();
        int chunks = 0;
        for (String d : data.subList(0, data.size() - 1)) {
            JsonNode chunk = JSON.readTree(d);
            if (chunk.path("choices").path(0).has("text")) {
                text.append(chunk.path("choices").path(0).path("text").asText());
                chunks++;
            }
        }
        assertThat(chunks).as("streamed chunks").isGreaterThan(1);
        assertThat(text.toString()).isNotBlank();
    }

    @Test
    @Order(2)
    void podRunsRestrictedAsTheNamespaceRangesUidAndTheRuntimeReadsTheModelcar(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        assertThat(k.namespaces().withName(NS).get().getMetadata().getLabels())
                .containsEntry("pod-security.kubernetes.io/enforce", "restricted");
        Pod pod = readyPod(k, SIDECAR);
        long uid = NodeExtension.UID_RANGE_START;
        assertThat(pod.getSpec().getSecurityContext().getRunAsUser()).isEqualTo(uid);
        // The kernel's view, on the host: every process of the runtime and of the modelcar sidecar runs as that UID.
        for (String container : List.of("runtime", "modelcar")) {
            List<String> ids = NodeModels.processIds(pod, container);
            assertThat(ids).as(container + " processes").isNotEmpty()
                    .filteredOn(l -> l.startsWith("Uid:")).allMatch(l -> l.equals("Uid: " + uid + " " + uid + " " + uid
                            + " " + uid));
        }
        // The runtime loaded the GGUF through the sidecar's /proc/<pid>/root link: it answers /v1/models.
        HttpResponse<String> models = NodeModels.get(NodeModels.serviceUri(k, NS, SIDECAR), "/v1/models");
        assertThat(models.statusCode()).isEqualTo(200);
        assertThat(models.body()).contains(SIDECAR);
    }

    @Test
    @Order(3)
    void deletedPodIsReplacedAndServesAgain(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        Pod old = readyPod(k, SIDECAR);
        k.pods().inNamespace(NS).withName(old.getMetadata().getName()).delete();
        NodeModels.Watched w = NodeModels.watch(k, NS, SIDECAR, m -> isTrue(m, "Ready") && pods(k, NS, SIDECAR).stream()
                .anyMatch(p -> podReady(p) && !p.getMetadata().getName().equals(old.getMetadata().getName())),
                READY_TIMEOUT);
        assertThat(w.violations()).isEmpty();
        figure("pod deleted -> replacement Ready " + w.millis() / 1000.0 + " s (image cached)");
        chats(k, SIDECAR);
    }

    @Test
    @Order(4)
    void rollingSpecChangeUnderASteadyRequestStreamLosesNoRequest(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        URI svc = NodeModels.serviceUri(k, NS, SIDECAR);
        Pod old = readyPod(k, SIDECAR);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger ok = new AtomicInteger();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        Thread client = Thread.ofPlatform().name("steady-requests").start(() -> {
            while (!stop.get()) {
                try {
                    HttpResponse<String> r = NodeModels.post(svc, "/v1/completions",
                            completionBody(SIDECAR, "Hello, my name is", 4, false), REQUEST_TIMEOUT);
                    if (r.statusCode() == 200) ok.incrementAndGet();
                    else failures.add(r.statusCode() + ": " + r.body());
                } catch (Exception e) {
                    failures.add(e.toString());
                }
            }
        });
        try {
            Thread.sleep(3000);
            // A new env var: a new pod template, so the Deployment rolls (maxSurge 1: the new pod first).
            Map<String, Object> spec = NodeModels.spec(NodeModels.modelcar("sidecar"));
            spec.put("env", List.of(Map.of("name", "GEMMA_ROLL", "value", "1")));
            NodeModels.create(k, NS, SIDECAR, spec);
            NodeModels.Watched w = NodeModels.watch(k, NS, SIDECAR, m -> {
                List<Pod> pods = pods(k, NS, SIDECAR);
                return isTrue(m, "Ready") && pods.size() == 1 && podReady(pods.get(0))
                        && !pods.get(0).getMetadata().getName().equals(old.getMetadata().getName());
            }, READY_TIMEOUT);
            figure("rolling update under steady requests: done in " + w.millis() / 1000.0 + " s");
            Thread.sleep(3000);
        } finally {
            stop.set(true);
            client.join(REQUEST_TIMEOUT.toMillis());
        }
        figure("rolling update: " + ok.get() + " requests served, " + failures.size() + " failed");
        assertThat(failures).as("requests failed during the roll").isEmpty();
        assertThat(ok.get()).isPositive();
    }

    @Test
    @Order(5)
    void memoryLimitHoldsWithEverySequenceAtFullContext(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        URI svc = NodeModels.serviceUri(k, NS, SIDECAR);
        Pod pod = readyPod(k, SIDECAR);
        // The spec allows 2 sequences of 1024 tokens: two requests at once whose prompt and output fill the context
        // (no max_tokens: generation runs to the end of the context; greedy on repeated text meets no end token).
        String prompt = "The quick brown fox jumps over the lazy dog. ".repeat(45);
        List<Thread> threads = new ArrayList<>();
        List<String> results = Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 2; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    HttpResponse<String> r = NodeModels.post(svc, "/v1/completions",
                            JSON.createObjectNode().put("model", SIDECAR).put("prompt", prompt).put("temperature", 0)
                                    .toString(), Duration.ofMinutes(10));
                    JsonNode usage = JSON.readTree(r.body()).path("usage");
                    results.add(r.statusCode() + " prompt=" + usage.path("prompt_tokens").asInt() + " completion="
                            + usage.path("completion_tokens").asInt());
                } catch (Exception e) {
                    results.add(e.toString());
                }
            }));
        }
        for (Thread t : threads) t.join(Duration.ofMinutes(11));
        assertThat(results).hasSize(2).allMatch(r -> r.startsWith("200 "));
        assertThat(results).as("each sequence filled its 1024-token context").allMatch(r -> {
            String[] f = r.replaceAll("[^0-9 ]", "").trim().split(" +");
            return Integer.parseInt(f[1]) + Integer.parseInt(f[2]) == 1024;
        });
        Pod after = k.pods().inNamespace(NS).withName(pod.getMetadata().getName()).get();
        var runtime = NodeModels.runtimeStatus(after).orElseThrow();
        assertThat(runtime.getRestartCount()).as("restarts").isZero();
        String limit = after.getSpec().getContainers().get(0).getResources().getLimits().get("memory").toString();
        Path cg = NodeModels.containerCgroup("memory", after, "runtime").orElseThrow();
        long peak = Long.parseLong(Files.readString(cg.resolve("memory.max_usage_in_bytes")).trim());
        long limitBytes = Long.parseLong(Files.readString(cg.resolve("memory.limit_in_bytes")).trim());
        figure("full context x 2 sequences: " + results + "; runtime container peak memory " + peak / (1 << 20)
                + " MiB of its " + limit + " limit (" + limitBytes / (1 << 20) + " MiB), restarts 0");
        assertThat(peak).isLessThanOrEqualTo(limitBytes);
    }

    @Test
    @Order(6)
    void tooSmallMemoryLimitEndsInAConditionSayingOomKilledAndWhatToRaise(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        String name = "too-small";
        Map<String, Object> spec = NodeModels.spec(NodeModels.modelcar("sidecar"));
        spec.put("resources", Map.of("requests", Map.of("cpu", "500m", "memory", "200Mi"),
                "limits", Map.of("memory", "200Mi")));
        NodeModels.create(k, NS, name, spec);
        NodeModels.Watched w = NodeModels.watch(k, NS, name, m -> mentions(m, "OOMKilled"), READY_TIMEOUT);
        String said = messages(w.model());
        assertThat(said).contains("OOMKilled").containsIgnoringCase("memory");
        assertThat(isTrue(w.model(), "Ready")).isFalse();
        k.resource(w.model()).delete();
    }

    /** Every condition's message of the model, one a line. */
    static String messages(GenericKubernetesResource m) {
        StringBuilder b = new StringBuilder();
        for (JsonNode c : NodeModels.status(m).path("conditions")) {
            b.append(c.path("type").asText()).append('=').append(c.path("status").asText()).append(' ')
                    .append(c.path("reason").asText()).append(": ").append(c.path("message").asText()).append('\n');
        }
        return b.toString();
    }

    static boolean mentions(GenericKubernetesResource m, String text) {
        return messages(m).contains(text);
    }

    @Test
    @Order(7)
    void pvcModelOnALocalPersistentVolume(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        Path dir = LocalVolumes.weights(env, "weights", false);
        LocalVolumes.claim(k, NS, "weights", dir);
        String name = "from-pvc";
        NodeModels.create(k, NS, name, NodeModels.spec(Map.of("uri", "pvc://weights/" + Images.MODELCAR_FILE,
                "variant", "gemma-3-270m")));
        NodeModels.Watched w = NodeModels.watch(k, NS, name, m -> isTrue(m, "Ready"), READY_TIMEOUT);
        assertThat(w.violations()).isEmpty();
        figure("pvc:// on a local PersistentVolume: apply -> Ready " + w.millis() / 1000.0 + " s");
        chats(k, name);
        k.resource(w.model()).delete();
    }

    @Test
    @Order(8)
    void truncatedGgufShowsTheRuntimesOwnReasonInTheStatus(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        Path dir = LocalVolumes.weights(env, "truncated", true);
        LocalVolumes.claim(k, NS, "truncated", dir);
        String name = "truncated";
        NodeModels.create(k, NS, name, NodeModels.spec(Map.of("uri", "pvc://truncated/" + Images.MODELCAR_FILE,
                "variant", "gemma-3-270m")));
        // The runtime's own words about the file reach the status, not only the pod's CrashLoopBackOff.
        NodeModels.Watched w = NodeModels.watch(k, NS, name,
                m -> "CrashLoopBackOff".equals(condition(m, "Degraded").path("reason").asText())
                        && condition(m, "Degraded").path("message").asText().toLowerCase(java.util.Locale.ROOT)
                        .matches("(?s).*(truncat|gguf).*"), READY_TIMEOUT);
        assertThat(isTrue(w.model(), "Ready")).isFalse();
        String line = condition(w.model(), "Degraded").path("message").asText();
        figure("truncated GGUF: Degraded CrashLoopBackOff: " + line);
        assertThat(line).doesNotContain("\n").doesNotContain("\tat ");
        k.resource(w.model()).delete();
    }

    @Test
    @Order(9)
    void imageVolumeModelcarWhereTheContainerRuntimeSupportsIt(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        String runtime = k.nodes().withName(RealNode.NAME).get().getStatus().getNodeInfo().getContainerRuntimeVersion();
        java.util.regex.Matcher v = java.util.regex.Pattern.compile("containerd://(\\d+)\\.(\\d+)").matcher(runtime);
        boolean supported = v.lookingAt() && (Integer.parseInt(v.group(1)) > 2
                || Integer.parseInt(v.group(1)) == 2 && Integer.parseInt(v.group(2)) >= 1);
        org.junit.jupiter.api.Assumptions.assumeTrue(supported, "Kubernetes image volumes need containerd >= 2.1 (and"
                + " the ImageVolume feature gate on kube-apiserver and kubelet in 1.34); this node runs " + runtime);
        String name = "image-volume";
        NodeModels.create(k, NS, name, NodeModels.spec(NodeModels.modelcar("imageVolume")));
        NodeModels.Watched w = NodeModels.watch(k, NS, name, m -> isTrue(m, "Ready"), READY_TIMEOUT);
        assertThat(w.violations()).isEmpty();
        figure("image-volume modelcar: apply -> Ready " + w.millis() / 1000.0 + " s");
        chats(k, name);
        k.resource(w.model()).delete();
    }

    @Test
    @Order(10)
    void imageThatCannotBePulledNamesTheImageAndThePullError(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        String name = "absent-image";
        String image = Images.REGISTRY + "/gemma-serving/modelcar-that-was-never-pushed:none";
        NodeModels.create(k, NS, name, NodeModels.spec(Map.of("uri", "oci://" + image, "file", Images.MODELCAR_FILE,
                "variant", "gemma-3-270m", "modelcar", "sidecar")));
        NodeModels.Watched w = NodeModels.watch(k, NS, name,
                m -> "ImagePullBackOff".equals(condition(m, "Degraded").path("reason").asText()), READY_TIMEOUT);
        String line = condition(w.model(), "Degraded").path("message").asText();
        figure("image that cannot be pulled: Degraded ImagePullBackOff after " + w.millis() / 1000.0 + " s: " + line);
        assertThat(line).contains(image).contains("not found").doesNotContain("\n");
        assertThat(isTrue(w.model(), "Ready")).isFalse();
        k.resource(w.model()).delete();
    }

    /**
     * A GPU model on this GPU-less node: first Pending, the scheduler's reason in Progressing; then, with the node
     * advertising an nvidia.com/gpu it does not have (as a misconfigured device plugin would), the runtime starts
     * with --backend=cuda, finds no CUDA driver and exits, and its own line (the termination message) reaches the
     * status. The ServingRuntime runs the CPU image: no CUDA image can be built here, and the point is the runtime's
     * refusal, which the CPU image shares.
     */
    @Test
    @Order(11)
    void gpuModelWaitsForAGpuThenShowsTheRuntimesCudaRefusal(NodeCluster env) throws Exception {
        KubernetesClient k = env.admin();
        String runtime = "gemma-java-cuda-on-cpu-image";
        NodeModels.runtime(k, NS, runtime, "nvidia.com/gpu", "250m");
        String name = "gpu-model";
        Map<String, Object> spec = NodeModels.spec(NodeModels.modelcar("sidecar"));
        spec.put("runtime", runtime);
        spec.put("accelerator", Map.of("type", "nvidia.com/gpu", "tensorParallelSize", 1));
        NodeModels.create(k, NS, name, spec);
        try {
            NodeModels.Watched pending = NodeModels.watch(k, NS, name,
                    m -> "Unschedulable".equals(condition(m, "Progressing").path("reason").asText()), READY_TIMEOUT);
            String waits = condition(pending.model(), "Progressing").path("message").asText();
            figure("GPU model on a GPU-less node: Progressing Unschedulable: " + waits);
            assertThat(waits).contains("nvidia.com/gpu");

            RealNode.advertiseGpus(k, 1);
            NodeModels.Watched refused = NodeModels.watch(k, NS, name,
                    m -> "CrashLoopBackOff".equals(condition(m, "Degraded").path("reason").asText())
                            && condition(m, "Degraded").path("message").asText().toLowerCase(java.util.Locale.ROOT)
                            .contains("cuda"), READY_TIMEOUT);
            String line = condition(refused.model(), "Degraded").path("message").asText();
            figure("--backend=cuda on a node without a GPU: Degraded CrashLoopBackOff: " + line);
            assertThat(line).doesNotContain("\tat ").doesNotContain("Exception");
            assertThat(isTrue(refused.model(), "Ready")).isFalse();
        } finally {
            NodeModels.model(k, NS, name).delete();
            RealNode.advertiseGpus(k, 0);
        }
    }
}
