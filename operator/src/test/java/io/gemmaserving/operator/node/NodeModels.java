package io.gemmaserving.operator.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** GemmaModels on the real node: creating them, waiting on them, their pods, and requests through their Service. */
final class NodeModels {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String MODEL_LABEL = "serving.gemma.io/model";
    static final String RUNTIME = "gemma-java-cpu";

    private NodeModels() {
    }

    /**
     * A namespace as OpenShift makes one for restricted-v2: Pod Security "restricted" enforced, and the UID range its
     * pods' UIDs come from; with the CPU ServingRuntime of our image (requests small enough for this 2-core node).
     */
    static void namespace(KubernetesClient k, String ns) {
        k.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns)
                .withLabels(Map.of("pod-security.kubernetes.io/enforce", "restricted",
                        "pod-security.kubernetes.io/enforce-version", "latest"))
                .withAnnotations(Map.of("openshift.io/sa.scc.uid-range", NodeExtension.UID_RANGE,
                        "openshift.io/sa.scc.supplemental-groups", NodeExtension.UID_RANGE))
                .endMetadata().build()).serverSideApply();
        runtime(k, ns, RUNTIME, "cpu", "500m");
    }

    /** A ServingRuntime of our CPU image for GGUF models on the given accelerator type, asking {@code cpu}. */
    static void runtime(KubernetesClient k, String ns, String name, String accelerator, String cpu) {
        GenericKubernetesResource runtime = new GenericKubernetesResource();
        runtime.setApiVersion("serving.gemma.io/v1alpha1");
        runtime.setKind("ServingRuntime");
        runtime.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
        runtime.setAdditionalProperty("spec", Map.of(
                "image", Images.RUNTIME,
                "acceleratorTypes", List.of(accelerator),
                "supportedModelFormats", List.of(Map.of("name", "gguf", "priority", 2)),
                "resources", Map.of("requests", Map.of("cpu", cpu)),
                "port", 8080));
        k.resource(runtime).fieldManager("test").forceConflicts().serverSideApply();
    }

    /** A 270M GemmaModel's spec: a small context and two sequences keep memory and warm-up short on this node. */
    static Map<String, Object> spec(Map<String, Object> source) {
        Map<String, Object> spec = new LinkedHashMap<>();
        spec.put("source", source);
        spec.put("runtime", RUNTIME);
        spec.put("serving", Map.of("maxContextLength", 1024, "maxConcurrentSequences", 2));
        // the operator asks 2 CPUs for a CPU model by default: the whole of this node, less the operator's 100m
        spec.put("resources", Map.of("requests", Map.of("cpu", "500m")));
        return spec;
    }

    static Map<String, Object> modelcar(String mode) {
        return Map.of("uri", "oci://" + Images.MODELCAR, "file", Images.MODELCAR_FILE, "variant", "gemma-3-270m",
                "modelcar", mode);
    }

    static GenericKubernetesResource create(KubernetesClient k, String ns, String name, Map<String, Object> spec) {
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion("serving.gemma.io/v1alpha1");
        r.setKind("GemmaModel");
        r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
        r.setAdditionalProperty("spec", spec);
        return k.resource(r).fieldManager("test").forceConflicts().serverSideApply();
    }

    static Resource<GenericKubernetesResource> model(KubernetesClient k, String ns, String name) {
        return k.genericKubernetesResources("serving.gemma.io/v1alpha1", "GemmaModel").inNamespace(ns).withName(name);
    }

    static JsonNode status(GenericKubernetesResource m) {
        JsonNode status = m == null ? null : JSON.valueToTree(m.getAdditionalProperties()).get("status");
        return status == null ? JSON.createObjectNode() : status;
    }

    /** The model's condition of this type, or an empty object. */
    static JsonNode condition(GenericKubernetesResource m, String type) {
        for (JsonNode c : status(m).path("conditions")) {
            if (type.equals(c.path("type").asText())) return c;
        }
        return JSON.createObjectNode();
    }

    static boolean isTrue(GenericKubernetesResource m, String type) {
        return "True".equals(condition(m, type).path("status").asText());
    }

    static List<Pod> pods(KubernetesClient k, String ns, String model) {
        return k.pods().inNamespace(ns).withLabel(MODEL_LABEL, model).list().getItems();
    }

    static boolean podReady(Pod p) {
        return p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    static Optional<ContainerStatus> runtimeStatus(Pod p) {
        if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null) return Optional.empty();
        return p.getStatus().getContainerStatuses().stream().filter(c -> "runtime".equals(c.getName())).findFirst();
    }

    /** What a wait saw: the model at the end, and every (model Ready, some pod's runtime ready) pair in between. */
    record Watched(GenericKubernetesResource model, List<String> violations, boolean sawNotReady, long millis) {
    }

    /**
     * Polls every half second until {@code done} holds for the model; records each time the model said Ready while no
     * pod of it was Ready with its runtime container ready (the readiness probe on /health/ready passed).
     */
    static Watched watch(KubernetesClient k, String ns, String name, Predicate<GenericKubernetesResource> done,
                         Duration timeout) throws InterruptedException {
        long t0 = System.currentTimeMillis();
        long end = t0 + timeout.toMillis();
        List<String> violations = new ArrayList<>();
        boolean sawNotReady = false;
        GenericKubernetesResource m = null;
        while (System.currentTimeMillis() < end) {
            m = model(k, ns, name).get();
            List<Pod> pods = pods(k, ns, name);
            boolean modelReady = isTrue(m, "Ready");
            boolean podServing = pods.stream().anyMatch(p -> podReady(p)
                    && runtimeStatus(p).map(c -> Boolean.TRUE.equals(c.getReady())).orElse(false));
            if (modelReady && !podServing) {
                violations.add("at " + (System.currentTimeMillis() - t0) + " ms the model was Ready with no pod ready: "
                        + condition(m, "Ready"));
            }
            if (!modelReady) sawNotReady = true;
            if (m != null && done.test(m)) return new Watched(m, violations, sawNotReady, System.currentTimeMillis() - t0);
            Thread.sleep(500);
        }
        throw new AssertionError("model " + ns + "/" + name + " not done after " + timeout + "; status: " + status(m)
                + "\npods: " + describe(pods(k, ns, name)));
    }

    static String describe(List<Pod> pods) {
        StringBuilder b = new StringBuilder();
        for (Pod p : pods) {
            b.append("\n  ").append(p.getMetadata().getName()).append(" phase=").append(p.getStatus().getPhase());
            if (p.getStatus().getContainerStatuses() != null) {
                for (ContainerStatus c : p.getStatus().getContainerStatuses()) {
                    b.append("\n    ").append(c.getName()).append(" ready=").append(c.getReady())
                            .append(" restarts=").append(c.getRestartCount()).append(" state=").append(c.getState())
                            .append(" last=").append(c.getLastState());
                }
            }
        }
        return b.toString();
    }

    /** http://ClusterIP:port of the model's Service: reachable from this host through kube-proxy's rules. */
    static URI serviceUri(KubernetesClient k, String ns, String name) {
        Service s = k.services().inNamespace(ns).withName(name).get();
        return URI.create("http://" + s.getSpec().getClusterIP() + ":" + s.getSpec().getPorts().get(0).getPort());
    }

    /** A POST on its own connection (a new client each time), so a request never rides a connection a drained pod closes. */
    static HttpResponse<String> post(URI base, String path, String body, Duration timeout)
            throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            return http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    static HttpResponse<String> get(URI base, String path) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            return http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(30)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        }
    }

    /** The data: payloads of a streamed (SSE) response, in order. */
    static List<String> stream(URI base, String path, String body, Duration timeout)
            throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(timeout)
                    .header("Content-Type", "application/json").header("Accept", "text/event-stream")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
            if (r.statusCode() != 200) {
                throw new AssertionError("streamed " + path + " answered " + r.statusCode() + ": "
                        + new String(r.body().readAllBytes(), StandardCharsets.UTF_8));
            }
            List<String> data = new ArrayList<>();
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("data:")) data.add(line.substring(5).trim());
                }
            }
            return data;
        }
    }

    /**
     * The cgroup (v1, cgroupfs driver) folder of a container under the given controller:
     * /sys/fs/cgroup/CONTROLLER/kubepods/[QOS/]pod&lt;uid&gt;/&lt;container id&gt;.
     */
    static Optional<Path> containerCgroup(String controller, Pod pod, String container) throws IOException {
        List<ContainerStatus> all = new ArrayList<>(pod.getStatus().getContainerStatuses());
        if (pod.getStatus().getInitContainerStatuses() != null) all.addAll(pod.getStatus().getInitContainerStatuses());
        String id = all.stream().filter(c -> container.equals(c.getName()))
                .map(ContainerStatus::getContainerID).filter(x -> x != null).findFirst().orElse("");
        String cid = id.replaceFirst("^[a-z]+://", "");
        String podDir = "pod" + pod.getMetadata().getUid();
        Path root = Path.of("/sys/fs/cgroup", controller, "kubepods");
        if (cid.isEmpty() || !Files.isDirectory(root)) return Optional.empty();
        try (Stream<Path> dirs = Files.walk(root, 3)) {
            return dirs.filter(d -> d.getFileName().toString().equals(cid)
                    && d.getParent().getFileName().toString().equals(podDir)).findFirst();
        }
    }

    /** "Uid:" and "Gid:" lines of the processes of a container, read on the host through its cgroup. */
    static List<String> processIds(Pod pod, String container) throws IOException {
        List<String> out = new ArrayList<>();
        Optional<Path> cg = containerCgroup("pids", pod, container);
        if (cg.isEmpty()) return out;
        for (String pid : Files.readAllLines(cg.get().resolve("cgroup.procs"))) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", pid.trim(), "status"))) {
                    if (line.startsWith("Uid:") || line.startsWith("Gid:")) out.add(line.replaceAll("\\s+", " "));
                }
            } catch (IOException exited) {
                // the process ended between the two reads
            }
        }
        return out;
    }
}
