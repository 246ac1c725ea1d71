package io.gemmaserving.operator.apiserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.FieldValidateable.Validation;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CRDs' OpenAPI schema and CEL rules, enforced by a real kube-apiserver: each invalid document is refused with
 * a message naming the field, and a valid one passes (so the refusals are not the server refusing everything).
 */
@Tag("apiserver")
class ValidationTest {

    static final String VALID_SOURCE = "source: {uri: \"oci://example.com/gemma-3-270m-it:1\", variant: gemma-3-270m-it}\n";
    static KubernetesClient client;
    static String ns;

    @BeforeAll
    static void server() {
        client = ApiServer.client();
        ns = ApiServer.namespace("validation");
    }

    static GenericKubernetesResource doc(String kind, String spec) {
        return doc(kind, "doc", spec);
    }

    static GenericKubernetesResource doc(String kind, String name, String spec) {
        return Serialization.unmarshal("""
                apiVersion: serving.gemma.io/v1alpha1
                kind: %s
                metadata:
                  name: %s
                spec:
                %s
                """.formatted(kind, name, spec.indent(2)), GenericKubernetesResource.class);
    }

    /** "name: <metadata.name>" on the first line of a case's spec sets the document's name. */
    static KubernetesClientException refused(String kind, String spec) {
        String name = spec.startsWith("name: ") ? spec.lines().findFirst().orElseThrow().substring(6) : "doc";
        String body = spec.startsWith("name: ") ? spec.substring(spec.indexOf('\n') + 1) : spec;
        return assertThrows(KubernetesClientException.class, () -> client.resource(doc(kind, name, body)).inNamespace(ns)
                .dryRun().fieldValidation(Validation.STRICT).create(), () -> kind + " was accepted:\n" + spec);
    }

    static Stream<Arguments> invalidModels() {
        return Stream.of(
                Arguments.of("no source", "replicas: 1", "spec.source"),
                Arguments.of("https scheme", "source: {uri: \"https://huggingface.co/google/gemma\"}", "spec.source.uri"),
                Arguments.of("bad claim name", "source: {uri: \"pvc://Bad_Claim/models\"}", "spec.source.uri"),
                Arguments.of("image volume from a PVC", "source: {uri: \"pvc://models/g\", modelcar: imageVolume}", "spec.source.modelcar"),
                Arguments.of("file escaping the model dir", "source: {uri: \"pvc://models/g\", file: ../../etc/passwd}", "spec.source.file"),
                Arguments.of("unknown format", "source: {uri: \"pvc://models/g\", format: onnx}", "spec.source.format"),
                Arguments.of("unknown accelerator", VALID_SOURCE + "accelerator: {type: amd.com/gpu}", "spec.accelerator.type"),
                Arguments.of("TP not a power of two", VALID_SOURCE + "accelerator: {type: nvidia.com/gpu, tensorParallelSize: 3}", "spec.accelerator.tensorParallelSize"),
                Arguments.of("TP on CPU", VALID_SOURCE + "accelerator: {tensorParallelSize: 2}", "spec.accelerator.tensorParallelSize"),
                Arguments.of("TP as text", VALID_SOURCE + "accelerator: {type: nvidia.com/gpu, tensorParallelSize: two}", "spec.accelerator.tensorParallelSize"),
                Arguments.of("GPU product on CPU", VALID_SOURCE + "accelerator: {type: cpu, product: NVIDIA-L4}", "spec.accelerator.type"),
                Arguments.of("memory utilization above 1", VALID_SOURCE + "accelerator: {type: nvidia.com/gpu, memoryUtilization: 1.5}", "spec.accelerator.memoryUtilization"),
                Arguments.of("min above max", VALID_SOURCE + "autoscaling: {minReplicas: 5, maxReplicas: 2}", "spec.autoscaling.minReplicas"),
                Arguments.of("scale to zero with HPA", VALID_SOURCE + "autoscaling: {minReplicas: 0, maxReplicas: 2}", "spec.autoscaling.minReplicas"),
                Arguments.of("no maxReplicas", VALID_SOURCE + "autoscaling: {minReplicas: 1}", "spec.autoscaling.maxReplicas"),
                Arguments.of("unknown autoscaler", VALID_SOURCE + "autoscaling: {maxReplicas: 3, mode: VPA}", "spec.autoscaling.mode"),
                Arguments.of("replicas and autoscaling", VALID_SOURCE + "replicas: 2\nautoscaling: {maxReplicas: 3}", "spec.replicas"),
                Arguments.of("negative replicas", VALID_SOURCE + "replicas: -1", "spec.replicas"),
                Arguments.of("tiny context", VALID_SOURCE + "serving: {maxContextLength: 64}", "spec.serving.maxContextLength"),
                Arguments.of("unknown quantization", VALID_SOURCE + "serving: {quantization: q5_1}", "spec.serving.quantization"),
                Arguments.of("misspelt field", VALID_SOURCE + "replicaz: 2", "spec.replicaz"),
                Arguments.of("API key secret without name", VALID_SOURCE + "serving: {apiKeySecretRef: {key: k}}", "spec.serving.apiKeySecretRef.name"),
                Arguments.of("API key secret name not DNS", VALID_SOURCE + "serving: {apiKeySecretRef: {name: \"My Keys\"}}", "spec.serving.apiKeySecretRef.name"),
                Arguments.of("memory limit not a quantity", VALID_SOURCE + "resources: {limits: {memory: lots}}", "spec.resources.limits.memory"),
                Arguments.of("cpu request not a quantity", VALID_SOURCE + "resources: {requests: {cpu: \"2 cores\"}}", "spec.resources.requests.cpu"),
                Arguments.of("GPU memory not a quantity", VALID_SOURCE + "accelerator: {type: nvidia.com/gpu, memory: forty}", "spec.accelerator.memory"),
                Arguments.of("weights size not a quantity", "source: {uri: \"pvc://models/g\", weightsSize: big}", "spec.source.weightsSize"),
                Arguments.of("name longer than 63", "name: " + "m".repeat(64) + "\n" + VALID_SOURCE, "metadata.name"),
                Arguments.of("name starting with a digit", "name: 9b-model\n" + VALID_SOURCE, "metadata.name"),
                Arguments.of("env without a name", VALID_SOURCE + "env: [{value: x}]", "spec.env[0].name"),
                Arguments.of("env with an empty name", VALID_SOURCE + "env: [{name: \"\", value: x}]", "spec.env[0].name"),
                Arguments.of("env name with a space", VALID_SOURCE + "env: [{name: \"MY VAR\", value: x}]", "spec.env[0].name"),
                Arguments.of("env name twice", VALID_SOURCE + "env: [{name: A, value: x}, {name: A, value: y}]", "spec.env[1]"),
                Arguments.of("OCI reference with a space", "source: {uri: \"oci://example.com/gemma 3:1\"}", "spec.source.uri"),
                Arguments.of("OCI reference upper-case", "source: {uri: \"oci://example.com/Gemma:1\"}", "spec.source.uri"),
                Arguments.of("OCI reference bad tag", "source: {uri: \"oci://example.com/gemma:-1\"}", "spec.source.uri"),
                Arguments.of("OCI reference bad digest", "source: {uri: \"oci://example.com/gemma@sha256:abc\"}", "spec.source.uri"),
                Arguments.of("runtime not a DNS name", VALID_SOURCE + "runtime: My_Runtime", "spec.runtime"),
                Arguments.of("priority class not a DNS name", VALID_SOURCE + "priorityClassName: High Priority", "spec.priorityClassName"),
                Arguments.of("TP above 8", VALID_SOURCE + "accelerator: {type: nvidia.com/gpu, tensorParallelSize: 16}", "spec.accelerator.tensorParallelSize"));
    }

    @ParameterizedTest(name = "GemmaModel: {0}")
    @MethodSource("invalidModels")
    void invalidGemmaModelIsRefusedNamingTheField(String what, String spec, String field) {
        KubernetesClientException e = refused("GemmaModel", spec);
        // 422 Invalid for schema and CEL rules; 400 for strict decoding of an unknown field
        assertEquals(what.equals("misspelt field") ? 400 : 422, e.getCode(), e.getMessage());
        assertTrue(e.getMessage().contains(field + ":") || e.getMessage().contains(field + "[")
                        || e.getMessage().contains("unknown field \"" + field + "\""),
                () -> "message does not name " + field + ": " + e.getMessage());
    }

    static Stream<Arguments> invalidRuntimes() {
        return Stream.of(
                Arguments.of("no image", "port: 8080", "spec.image"),
                Arguments.of("image with a space", "image: \"example.com/a b:1\"", "spec.image"),
                Arguments.of("args set a derived option", "image: example.com/r:1\nargs: [\"--threads=4\", \"--port=9000\"]", "spec.args"),
                Arguments.of("privileged port", "image: example.com/r:1\nport: 80", "spec.port"),
                Arguments.of("unknown format", "image: example.com/r:1\nsupportedModelFormats: [{name: onnx}]", "spec.supportedModelFormats[0].name"),
                Arguments.of("unknown accelerator", "image: example.com/r:1\nacceleratorTypes: [google.com/tpu]", "spec.acceleratorTypes[0]"),
                Arguments.of("metric name with a space", "image: example.com/r:1\nwaitingRequestsMetric: \"queue depth\"", "spec.waitingRequestsMetric"),
                Arguments.of("image upper-case", "image: example.com/Runtime:1", "spec.image"),
                Arguments.of("format twice", "image: example.com/r:1\nsupportedModelFormats: [{name: gguf}, {name: gguf, priority: 2}]", "spec.supportedModelFormats[1]"),
                Arguments.of("env name with =", "image: example.com/r:1\nenv: [{name: \"A=B\", value: x}]", "spec.env[0].name"),
                Arguments.of("memory not a quantity", "image: example.com/r:1\nresources: {limits: {memory: 1.5 GB}}", "spec.resources.limits.memory"));
    }

    @ParameterizedTest(name = "ServingRuntime: {0}")
    @MethodSource("invalidRuntimes")
    void invalidServingRuntimeIsRefusedNamingTheField(String what, String spec, String field) {
        KubernetesClientException e = refused("ServingRuntime", spec);
        assertEquals(422, e.getCode(), e.getMessage());
        assertTrue(e.getMessage().contains(field + ":") || e.getMessage().contains(field + "["),
                () -> "message does not name " + field + ": " + e.getMessage());
    }

    @Test
    void validDocumentsAreAccepted() {
        client.resource(doc("GemmaModel", VALID_SOURCE + """
                accelerator: {type: nvidia.com/gpu, product: NVIDIA-L4, tensorParallelSize: 1, memoryUtilization: 0.85}
                autoscaling: {minReplicas: 0, maxReplicas: 4, mode: KEDA, targetQueueDepth: 3}
                serving: {maxContextLength: 8192, quantization: q4_k_m, apiKeySecretRef: {name: keys, key: api.key}}
                resources: {limits: {memory: 12Gi, cpu: 1500m}, requests: {memory: 1e9, cpu: 2}}
                env: [{name: JAVA_OPTS, value: "-Xss2m"}, {name: my.var, value: x}]
                runtime: java-cpu.v2
                """)).inNamespace(ns).dryRun().fieldValidation(Validation.STRICT).create();
        client.resource(doc("GemmaModel", "m".repeat(63), """
                source: {uri: "oci://registry.example.com:5000/team/gemma-3-270m-it:q4_k_m@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
                """)).inNamespace(ns).dryRun().fieldValidation(Validation.STRICT).create();
        client.resource(doc("GemmaModel", "local", "source: {uri: \"oci://gemma__model/x-y.z:latest\", weightsSize: 0.5Gi}"))
                .inNamespace(ns).dryRun().fieldValidation(Validation.STRICT).create();
        client.resource(doc("ServingRuntime", """
                image: example.com/r:1
                args: ["--threads=4"]
                supportedModelFormats: [{name: gguf, priority: 2}, {name: safetensors}]
                env: [{name: A, value: x}, {name: B, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}]
                acceleratorTypes: [cpu, nvidia.com/gpu]
                """)).inNamespace(ns).dryRun().fieldValidation(Validation.STRICT).create();
    }
}
