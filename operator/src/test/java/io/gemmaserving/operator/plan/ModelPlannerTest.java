package io.gemmaserving.operator.plan;

import static io.gemmaserving.operator.TestModels.model;
import static io.gemmaserving.operator.TestModels.plan;
import static io.gemmaserving.operator.TestModels.runtime;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Quantity;
import io.gemmaserving.operator.api.ModelFormat;
import io.gemmaserving.operator.api.ServingRuntime;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ModelPlannerTest {

    static final String GGUF_270M = """
            source:
              uri: pvc://models/gemma/gemma-3-270m-it-Q4_K_M.gguf
              variant: gemma-3-270m-it
            """;

    ServingRuntime cpuRuntime = runtime("java-cpu", """
            image: example.com/runtime:cpu
            supportedModelFormats: [{name: gguf, priority: 1}, {name: safetensors}]
            """);
    ServingRuntime cudaRuntime = runtime("java-cuda", """
            image: example.com/runtime:cuda
            acceleratorTypes: [nvidia.com/gpu]
            supportedModelFormats: [{name: safetensors, priority: 5}]
            """);
    ServingRuntime preferred = runtime("preferred-cpu", """
            image: example.com/runtime:fast
            supportedModelFormats: [{name: gguf, priority: 9, autoSelect: false}]
            """);

    @Test
    void pvc_uri_ending_in_gguf_mounts_the_directory_and_loads_the_file() {
        ModelPlan p = plan(model("small", GGUF_270M));
        assertEquals(ModelPlan.Weights.PVC, p.weights);
        assertEquals("models", p.claim);
        assertEquals("gemma", p.claimSubPath);
        assertEquals("/mnt/models/gemma-3-270m-it-Q4_K_M.gguf", p.modelPath);
        assertEquals(ModelFormat.gguf, p.format);
        assertTrue(p.deployable());
    }

    @Test
    void runtime_is_the_named_one_else_the_best_match_else_builtin() {
        assertEquals("builtin-cpu", plan(model("m", GGUF_270M)).runtime.name());
        assertEquals("example.com/gemma-runtime:cpu", plan(model("m", GGUF_270M)).runtime.image());
        // best match: format and accelerator fit; autoSelect false is skipped despite its priority
        assertEquals("java-cpu", plan(model("m", GGUF_270M), cudaRuntime, preferred, cpuRuntime).runtime.name());
        // named: used even with autoSelect false
        assertEquals("preferred-cpu", plan(model("m", GGUF_270M + "runtime: preferred-cpu\n"), preferred).runtime.name());
        ModelPlan gpu = plan(model("g", """
                source: {uri: "oci://registry.example.com/gemma-2-9b-it:1.5", variant: gemma-2-9b-it}
                accelerator: {type: nvidia.com/gpu, product: NVIDIA-H100-80GB-HBM3}
                """), cpuRuntime, cudaRuntime);
        assertEquals("java-cuda", gpu.runtime.name());
        ModelPlan builtinGpu = plan(model("g", """
                source: {uri: "oci://registry.example.com/gemma-2-9b-it:1.5", variant: gemma-2-9b-it}
                accelerator: {type: nvidia.com/gpu}
                """), cpuRuntime);
        assertEquals("example.com/gemma-runtime:cuda", builtinGpu.runtime.image());
    }

    @Test
    void a_named_runtime_that_is_missing_or_unfit_blocks_the_deployment() {
        ModelPlan missing = plan(model("m", GGUF_270M + "runtime: nope\n"), cpuRuntime);
        assertFalse(missing.deployable());
        assertEquals("RuntimeNotFound", missing.issues.getFirst().reason());
        // a missing runtime keeps what exists (it may be re-created); an unfit one is a spec problem
        assertTrue(missing.runtimeMissing() && missing.keepsChildren());
        ModelPlan unfit = plan(model("m", GGUF_270M + "runtime: java-cuda\n"), cudaRuntime);
        assertEquals("RuntimeUnsupportedFormat", unfit.issues.getFirst().reason());
        assertFalse(unfit.runtimeMissing() || unfit.keepsChildren());
        ModelPlan found = plan(model("m", GGUF_270M + "runtime: java-cpu\n"), cpuRuntime);
        assertTrue(found.keepsChildren() && !found.runtimeMissing());
    }

    @Test
    void gguf_without_a_file_cannot_be_served() {
        ModelPlan p = plan(model("m", "source: {uri: \"oci://example.com/gguf:1\", format: gguf}"));
        assertFalse(p.deployable());
        assertEquals("ModelFileUnknown", p.issues.getFirst().reason());
    }

    @Test
    void a_gpu_model_that_fits_nowhere_is_degraded_with_the_arithmetic() {
        ModelPlan p = plan(model("big", """
                source: {uri: "oci://example.com/gemma-3-27b-it:1", variant: gemma-3-27b-it}
                accelerator: {type: nvidia.com/gpu, product: Tesla-T4}
                serving: {maxContextLength: 131072}
                """));
        assertFalse(p.deployable());
        assertEquals("InsufficientGpuMemory", p.issues.getFirst().reason());
        assertTrue(p.issues.getFirst().message().contains("maxContextLength <="), p.issues.getFirst().message());
    }

    @Test
    void quantization_comes_from_the_spec_else_the_file_name_else_bf16() {
        assertEquals(ModelPlanner.quantization(new io.gemmaserving.operator.api.Serving(),
                model("m", GGUF_270M).getSpec().source).name(), "q4_k_m");
        assertEquals("iq4_nl", ModelPlanner.quantization(new io.gemmaserving.operator.api.Serving(),
                model("m", "source: {uri: \"pvc://m/gemma-2b.IQ4_NL.gguf\"}").getSpec().source).name());
        assertEquals("q4_0", ModelPlanner.quantization(new io.gemmaserving.operator.api.Serving(),
                model("m", "source: {uri: \"pvc://m/gemma-2b-q4_0.gguf\"}").getSpec().source).name());
        assertEquals("bf16", ModelPlanner.quantization(new io.gemmaserving.operator.api.Serving(),
                model("m", "source: {uri: \"oci://example.com/gemma-2-9b-it:1\"}").getSpec().source).name());
    }

    @Test
    void resources_merge_runtime_under_derived_under_spec_and_gpus_equal_tp() {
        ServingRuntime withDefaults = runtime("r", """
                image: example.com/runtime:cuda
                acceleratorTypes: [nvidia.com/gpu]
                resources: {requests: {cpu: "8", ephemeral-storage: 1Gi}}
                """);
        ModelPlan p = plan(model("g", """
                source: {uri: "oci://example.com/gemma-2-27b-it:1", variant: gemma-2-27b-it}
                accelerator: {type: nvidia.com/gpu, product: NVIDIA-A100-SXM4-40GB}
                serving: {maxContextLength: 8192, maxConcurrentSequences: 4}
                resources: {requests: {memory: 32Gi}, limits: {nvidia.com/gpu: "7"}}
                """), withDefaults);
        assertEquals(2, p.tensorParallelSize);
        var r = p.resources;
        assertEquals(new Quantity("2"), r.getRequests().get("cpu"));              // derived over runtime default
        assertEquals(new Quantity("1Gi"), r.getRequests().get("ephemeral-storage")); // runtime default kept
        assertEquals(new Quantity("32Gi"), r.getRequests().get("memory"));          // spec over derived
        assertEquals(new Quantity("32Gi"), r.getLimits().get("memory"));            // limit raised to the request
        assertEquals(new Quantity("2"), r.getRequests().get("nvidia.com/gpu"));
        assertEquals(new Quantity("2"), r.getLimits().get("nvidia.com/gpu"));
        assertTrue(p.warnings.stream().anyMatch(w -> w.contains("nvidia.com/gpu is ignored")));
    }

    @Test
    void cpu_memory_request_comes_from_the_arithmetic() {
        ModelPlan p = plan(model("small", GGUF_270M + "serving: {maxContextLength: 2048, maxConcurrentSequences: 2}\n"));
        long bytes = Quantity.getAmountInBytes(p.resources.getRequests().get("memory")).longValue();
        // 268M params x 4.89 bits (164 MB) + KV ((3 global x 2048 + 15 local x 512) x 256 x K,V x 2 B x 2 seqs, 28 MB) + 1 GiB JVM
        assertTrue(bytes > (1L << 30) + 160_000_000L && bytes < (1L << 30) + 200_000_000L, "memory " + bytes);
        assertEquals(p.resources.getRequests().get("memory"), p.resources.getLimits().get("memory"));
        assertNull(p.resources.getLimits().get("cpu"));
    }

    @Test
    void autoscaling_leaves_replicas_to_the_autoscaler() {
        ModelPlan p = plan(model("a", GGUF_270M + "autoscaling: {maxReplicas: 4, mode: KEDA, minReplicas: 0}\n"));
        assertNull(p.replicas);
        assertEquals(0, p.minReplicas);
        assertEquals(4, p.maxPods());
        assertTrue(p.keda);
        assertEquals(1, (int) plan(model("b", GGUF_270M)).replicas);
    }
}
