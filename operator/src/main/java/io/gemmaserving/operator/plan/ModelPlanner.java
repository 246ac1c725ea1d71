package io.gemmaserving.operator.plan;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.gemmaserving.operator.api.Accelerator;
import io.gemmaserving.operator.api.AcceleratorType;
import io.gemmaserving.operator.api.Architecture;
import io.gemmaserving.operator.api.Autoscaling;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.GemmaModelSpec;
import io.gemmaserving.operator.api.ModelFormat;
import io.gemmaserving.operator.api.ModelSource;
import io.gemmaserving.operator.api.Quantization;
import io.gemmaserving.operator.api.Serving;
import io.gemmaserving.operator.api.ServingRuntime;
import io.gemmaserving.operator.sizing.GemmaCatalog;
import io.gemmaserving.operator.sizing.GpuProducts;
import io.gemmaserving.operator.sizing.ModelShape;
import io.gemmaserving.operator.sizing.Sizing;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** Derives a {@link ModelPlan} from a GemmaModel: a pure function of the model, the runtimes and the settings. */
public final class ModelPlanner {

    public static final int DEFAULT_CONTEXT = 4096;
    public static final int DEFAULT_SEQUENCES = 8;
    public static final double DEFAULT_GPU_UTILIZATION = 0.9;
    public static final String GPU_RESOURCE = "nvidia.com/gpu";

    private ModelPlanner() {
    }

    public static ModelPlan plan(GemmaModel model, List<ServingRuntime> runtimes, OperatorSettings settings) {
        return plan(model, runtimes, settings, ModelPlan.OptionalApis.NONE);
    }

    /** @param apis the optional APIs the cluster serves (API discovery) */
    public static ModelPlan plan(GemmaModel model, List<ServingRuntime> runtimes, OperatorSettings settings,
                                 ModelPlan.OptionalApis apis) {
        ModelPlan p = new ModelPlan();
        p.apis = apis;
        GemmaModelSpec spec = model.getSpec();
        p.model = model;
        p.name = model.getMetadata().getName();
        p.namespace = model.getMetadata().getNamespace();
        p.endpoint = "http://" + p.name + "." + p.namespace + ".svc." + settings.clusterDomain();
        ModelSource source = spec.source;

        weights(p, source);
        AcceleratorType type = spec.accelerator == null || spec.accelerator.type == null
                ? AcceleratorType.CPU : spec.accelerator.type;
        p.gpu = type == AcceleratorType.NVIDIA_GPU;

        p.resolution = RuntimeResolver.resolve(spec.runtime, p.format, type, runtimes, settings);
        p.runtime = p.resolution.runtime();
        if (!p.resolution.resolved()) {
            p.issues.add(new ModelPlan.Issue(p.resolution.reason(), p.resolution.message(), true));
        }

        size(p, spec);
        scaling(p, spec, settings);
        if (spec.serving != null && spec.serving.apiKeySecretRef != null) {
            p.apiKeySecret = spec.serving.apiKeySecretRef.name;
            p.apiKeySecretKey = spec.serving.apiKeySecretRef.key == null ? "api-key" : spec.serving.apiKeySecretRef.key;
        }
        return p;
    }

    /** oci:// image or pvc://claim/path, the format, and the path --model gets. */
    static void weights(ModelPlan p, ModelSource source) {
        String file = source.file;
        if (source.uri.startsWith("oci://")) {
            p.image = source.uri.substring("oci://".length());
            p.weights = source.modelcar == ModelSource.ModelcarMode.imageVolume
                    ? ModelPlan.Weights.OCI_IMAGE_VOLUME : ModelPlan.Weights.OCI_SIDECAR;
        } else {
            String rest = source.uri.substring("pvc://".length());
            int slash = rest.indexOf('/');
            p.claim = slash < 0 ? rest : rest.substring(0, slash);
            String path = slash < 0 ? "" : rest.substring(slash + 1).replaceAll("/+$", "");
            if (file == null && path.toLowerCase(Locale.ROOT).endsWith(".gguf")) {
                // pvc://claim/dir/model.gguf: mount the directory, load the file
                int last = path.lastIndexOf('/');
                file = path.substring(last + 1);
                path = last < 0 ? "" : path.substring(0, last);
            }
            p.claimSubPath = path.isEmpty() ? null : path;
            p.weights = ModelPlan.Weights.PVC;
        }
        p.format = source.format != null ? source.format
                : file != null && file.toLowerCase(Locale.ROOT).endsWith(".gguf") ? ModelFormat.gguf : ModelFormat.safetensors;
        p.modelPath = file == null ? ModelPlan.MODEL_MOUNT : ModelPlan.MODEL_MOUNT + "/" + file;
        if (p.format == ModelFormat.gguf && file == null) {
            p.issues.add(new ModelPlan.Issue("ModelFileUnknown", "a gguf model needs source.file (the .gguf"
                    + " file inside the model directory) or a pvc:// URI ending in .gguf", true));
        }
    }

    /** Tensor-parallel size and resources from the memory arithmetic. */
    static void size(ModelPlan p, GemmaModelSpec spec) {
        Serving serving = spec.serving == null ? new Serving() : spec.serving;
        Accelerator acc = spec.accelerator == null ? new Accelerator() : spec.accelerator;
        ModelShape shape = shape(p, spec.source);
        p.contextLength = serving.maxContextLength != null ? serving.maxContextLength
                : shape != null ? Math.min(DEFAULT_CONTEXT, shape.maxPositionEmbeddings()) : DEFAULT_CONTEXT;
        p.sequences = serving.maxConcurrentSequences != null ? serving.maxConcurrentSequences : DEFAULT_SEQUENCES;
        if (shape != null && shape.maxPositionEmbeddings() > 0 && p.contextLength > shape.maxPositionEmbeddings()) {
            p.warnings.add("maxContextLength " + p.contextLength + " exceeds the " + shape.maxPositionEmbeddings()
                    + " positions " + shape.name() + " was trained for");
        }
        Quantization quant = quantization(serving, spec.source);
        Long weightBytes = null;
        if (spec.source.weightsSize != null) {
            weightBytes = bytes(p, spec.source.weightsSize, "spec.source.weightsSize");
        } else if (shape != null && shape.parameters() > 0) {
            weightBytes = (long) Math.ceil(shape.parameters() * quant.bytesPerParameter());
        }
        Sizing.Model sized = weightBytes == null ? null : new Sizing.Model(shape, weightBytes, p.contextLength, p.sequences);
        if (sized == null) {
            p.warnings.add("no memory estimate: set source.variant (one of " + String.join(", ", GemmaCatalog.names())
                    + ") or source.weightsSize and source.architecture");
        }

        Map<String, Quantity> requests = new LinkedHashMap<>();
        Map<String, Quantity> limits = new LinkedHashMap<>();
        if (p.gpu) {
            p.gpuProduct = acc.product;
            Optional<Long> device = acc.memory != null
                    ? Optional.ofNullable(bytes(p, acc.memory, "spec.accelerator.memory"))
                    : GpuProducts.memoryBytes(acc.product);
            double utilization = acc.memoryUtilization != null ? acc.memoryUtilization : DEFAULT_GPU_UTILIZATION;
            if (sized != null && device.isPresent()) {
                Sizing.GpuPlan plan = Sizing.gpu(sized, device.get(), utilization, acc.tensorParallelSize);
                p.tensorParallelSize = plan.tensorParallelSize();
                p.memoryEstimate = Sizing.gib(plan.bytesPerDevice()) + " per GPU";
                p.sizingMessage = plan.message();
                if (!plan.fits()) {
                    boolean badTp = acc.tensorParallelSize != null && !sized.divides(acc.tensorParallelSize);
                    p.issues.add(new ModelPlan.Issue(badTp ? "InvalidTensorParallelSize" : "InsufficientGpuMemory",
                            plan.message(), acc.tensorParallelSize == null || badTp));
                }
            } else {
                p.tensorParallelSize = acc.tensorParallelSize != null ? acc.tensorParallelSize : 1;
                if (sized != null) {
                    p.memoryEstimate = Sizing.gib(Sizing.bytesPerDevice(sized, p.tensorParallelSize)) + " per GPU";
                    p.warnings.add("GPU memory unknown: set accelerator.product (one the operator knows) or"
                            + " accelerator.memory to have the tensor-parallel size checked");
                }
            }
            Quantity gpus = new Quantity(Integer.toString(p.tensorParallelSize));
            requests.put("cpu", new Quantity("2"));
            requests.put("memory", new Quantity("8Gi"));
            limits.put("memory", new Quantity("16Gi"));
            requests.put(GPU_RESOURCE, gpus);
            limits.put(GPU_RESOURCE, gpus);
        } else {
            long bytes = sized != null ? Sizing.cpuBytes(sized) : 4 * Sizing.GIB;
            if (sized != null) {
                p.memoryEstimate = Sizing.gib(bytes) + " per pod";
            }
            Quantity memory = new Quantity(Long.toString(Sizing.ceilToMebibytes(bytes)) + "Mi");
            requests.put("cpu", new Quantity("2"));
            requests.put("memory", memory);
            limits.put("memory", memory);
        }
        p.resources = merge(p, requests, limits, spec.resources);
    }

    /**
     * Bytes of a quantity, or null with a blocking issue naming the field when it does not parse (the CRD's pattern
     * refuses such values at admission; this covers objects stored before it did).
     */
    static Long bytes(ModelPlan p, Quantity q, String field) {
        try {
            return Quantity.getAmountInBytes(q).longValue();
        } catch (RuntimeException e) {
            p.issues.add(new ModelPlan.Issue("InvalidQuantity", field + ": '" + q + "' is not a quantity (e.g. 512Mi, 18Gi, 2)",
                    true));
            return null;
        }
    }

    static boolean validQuantities(ModelPlan p, java.util.Map<String, Quantity> quantities, String field) {
        boolean ok = true;
        if (quantities != null) {
            for (var e : quantities.entrySet()) {
                ok &= bytes(p, e.getValue(), field + "." + e.getKey()) != null;
            }
        }
        return ok;
    }

    /** Runtime defaults under the derived values, the model's own resources over them; GPU count always = TP. */
    static ResourceRequirements merge(ModelPlan p, Map<String, Quantity> requests, Map<String, Quantity> limits,
                                      ResourceRequirements fromSpec) {
        Map<String, Quantity> req = new LinkedHashMap<>();
        Map<String, Quantity> lim = new LinkedHashMap<>();
        ResourceRequirements fromRuntime = p.runtime == null ? null : p.runtime.resources();
        if (fromRuntime != null) {
            putAll(req, fromRuntime.getRequests());
            putAll(lim, fromRuntime.getLimits());
        }
        req.putAll(requests);
        lim.putAll(limits);
        boolean valid = fromRuntime == null || (validQuantities(p, fromRuntime.getRequests(), "ServingRuntime '"
                + p.runtime.name() + "' spec.resources.requests") & validQuantities(p, fromRuntime.getLimits(),
                "ServingRuntime '" + p.runtime.name() + "' spec.resources.limits"));
        if (fromSpec != null) {
            valid &= validQuantities(p, fromSpec.getRequests(), "spec.resources.requests")
                    & validQuantities(p, fromSpec.getLimits(), "spec.resources.limits");
            putAll(req, fromSpec.getRequests());
            putAll(lim, fromSpec.getLimits());
        }
        if (p.gpu) {
            Quantity gpus = new Quantity(Integer.toString(p.tensorParallelSize));
            if (fromSpec != null && fromSpec.getLimits() != null && fromSpec.getLimits().containsKey(GPU_RESOURCE)
                    && !fromSpec.getLimits().get(GPU_RESOURCE).equals(gpus)) {
                p.warnings.add("resources' nvidia.com/gpu is ignored: the pod gets tensorParallelSize GPUs");
            }
            req.put(GPU_RESOURCE, gpus);
            lim.put(GPU_RESOURCE, gpus);
        }
        // a request above its limit is refused by the API server: raise the limit with it
        boolean comparable = valid;
        lim.replaceAll((k, v) -> comparable && req.containsKey(k)
                && Quantity.getAmountInBytes(req.get(k)).compareTo(Quantity.getAmountInBytes(v)) > 0 ? req.get(k) : v);
        ResourceRequirements r = new ResourceRequirements();
        r.setRequests(sorted(req));
        r.setLimits(sorted(lim));
        return r;
    }

    private static void putAll(Map<String, Quantity> into, Map<String, Quantity> from) {
        if (from != null) {
            into.putAll(from);
        }
    }

    private static Map<String, Quantity> sorted(Map<String, Quantity> m) {
        Map<String, Quantity> out = new LinkedHashMap<>();
        m.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    static ModelShape shape(ModelPlan p, ModelSource source) {
        Optional<ModelShape> known = GemmaCatalog.lookup(source.variant);
        if (known.isPresent()) {
            return known.get();
        }
        Architecture a = source.architecture;
        if (a != null) {
            return new ModelShape(source.variant == null ? "declared" : source.variant,
                    a.parameters == null ? 0 : a.parameters, a.layers, a.attentionHeads, a.kvHeads, a.headDim,
                    a.slidingWindow == null ? 0 : a.slidingWindow,
                    a.localLayersPerGlobal == null ? 0 : a.localLayersPerGlobal, 0);
        }
        if (source.variant != null) {
            p.warnings.add("variant '" + source.variant + "' is not in the operator's catalog");
        }
        return null;
    }

    /** The spec's quantization, else the one a GGUF file name carries (…-Q4_K_M.gguf), else bf16. */
    static Quantization quantization(Serving serving, ModelSource source) {
        if (serving.quantization != null) {
            return serving.quantization;
        }
        String name = (source.file != null ? source.file : source.uri).toLowerCase(Locale.ROOT);
        return java.util.Arrays.stream(Quantization.values())
                .sorted(Comparator.comparingInt((Quantization q) -> -q.name().length()))
                .filter(q -> name.matches(".*[^a-z0-9]" + q.name() + "([^a-z0-9].*)?$"))
                .findFirst().orElse(Quantization.bf16);
    }

    static void scaling(ModelPlan p, GemmaModelSpec spec, OperatorSettings settings) {
        Autoscaling a = spec.autoscaling;
        p.autoscaling = a;
        if (a == null) {
            p.replicas = spec.replicas == null ? 1 : spec.replicas;
            p.minReplicas = p.replicas;
            p.maxReplicas = p.replicas;
            return;
        }
        p.minReplicas = a.minReplicas == null ? 1 : a.minReplicas;
        p.maxReplicas = a.maxReplicas;
        p.targetQueueDepth = a.targetQueueDepth == null ? 5 : a.targetQueueDepth;
        p.scaleDownStabilizationSeconds = a.scaleDownStabilizationSeconds == null ? 300 : a.scaleDownStabilizationSeconds;
        p.keda = a.mode == Autoscaling.Mode.KEDA;
        if (p.keda && !p.apis.keda()) {
            p.warnings.add("autoscaling mode KEDA but KEDA is not installed: using an HPA");
        }
        p.prometheusAddress = a.prometheusAddress != null ? a.prometheusAddress : settings.prometheusAddress();
    }

}
