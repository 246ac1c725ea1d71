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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CRDs' OpenAPI schema and CEL rules, enforced by a real kube-apiserver: each invalid document is refused with
 * a message naming the field, and a valid one passes (so the refusals are not the server refusing everything).
 */
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
        return Serialization.unmarshal("""
                apiVersion: serving.gemma.io/v1alpha1
                kind: %s
                metadata:
                  name: doc
                spec:
                %s
                """.formatted(kind, spec.indent(2)), GenericKubernetesResource.class);
    }

    static KubernetesClientException refused(String kind, String spec) {
        return assertThrows(KubernetesClientException.class, () -> client.resource(doc(kind, spec)).inNamespace(ns)
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
                Arguments.of("API key secret without name", VALID_SOURCE + "serving: {apiKeySecretRef: {key: k}}", "spec.serving.apiKeySecretRef.name"));
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
                Arguments.of("metric name with a space", "image: example.com/r:1\nwaitingRequestsMetric: \"queue depth\"", "spec.waitingRequestsMetric"));
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
                serving: {maxContextLength: 8192, quantization: q4_k_m, apiKeySecretRef: {name: keys}}
                """)).inNamespace(ns).dryRun().fieldValidation(Validation.STRICT).create();
        client.resource(doc("ServingRuntime", """
                image: example.com/r:1
                args: ["--threads=4"]
                supportedModelFormats: [{name: gguf, priority: 2}]
                acceleratorTypes: [cpu, nvidia.com/gpu]
                """)).inNamespace(ns).dryRun().fieldValidation(Validation.STRICT).create();
    }
}
