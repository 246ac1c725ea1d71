package io.gemmaserving.operator.dependent;

import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.GemmaModelSpec;
import io.gemmaserving.operator.plan.ModelPlan;
import io.gemmaserving.operator.plan.ModelPlanner;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Deployment running the runtime: args the runtime's CLI (ServeOptions) accepts, probes on /health/*, a drain on
 * stop, the restricted security context, the weights (modelcar sidecar, image volume or PVC) and the GPUs.
 */
@KubernetesDependent(informer = @Informer(labelSelector = Children.MANAGED_SELECTOR))
public class DeploymentDependent extends RuntimeHeldDependent<Deployment> {

    public static final String RUNTIME_CONTAINER = "runtime";
    /** Seconds the pod stays in the endpoints after it is told to stop, so no new request lands on it mid-drain. */
    public static final int PRE_STOP_SLEEP_SECONDS = 5;
    public static final int DRAIN_SECONDS = 30;
    static final String MODELCAR_VOLUME = "model-dir";
    /** The modelcar sidecar: an init container with restartPolicy Always, running beside the runtime. */
    public static final String MODELCAR_CONTAINER = "modelcar";
    /** The status of a failed container says why (its termination message, or the end of its log). */
    public static final String TERMINATION_MESSAGE_POLICY = "FallbackToLogsOnError";

    public DeploymentDependent() {
        super(Deployment.class);
    }

    @Override
    protected Deployment desired(GemmaModel primary, Context<GemmaModel> context) {
        return build(Plans.of(primary, context));
    }

    public static Deployment build(ModelPlan p) {
        GemmaModelSpec spec = p.model.getSpec();
        List<Volume> volumes = new ArrayList<>();
        List<VolumeMount> mounts = new ArrayList<>();
        volumes.add(new VolumeBuilder().withName("tmp").withNewEmptyDir().endEmptyDir().build());
        mounts.add(new VolumeMountBuilder().withName("tmp").withMountPath("/tmp").build());
        if (p.tensorParallelSize > 1) {
            // NCCL and CUDA IPC between the GPUs of one pod use /dev/shm; the container default is 64 MiB
            volumes.add(new VolumeBuilder().withName("dshm").withNewEmptyDir().withMedium("Memory")
                    .withSizeLimit(new Quantity("2Gi")).endEmptyDir().build());
            mounts.add(new VolumeMountBuilder().withName("dshm").withMountPath("/dev/shm").build());
        }
        List<Container> inits = new ArrayList<>();
        weights(p, volumes, mounts, inits);
        if (p.apiKeySecret != null) {
            volumes.add(new VolumeBuilder().withName("api-key").withNewSecret().withSecretName(p.apiKeySecret)
                    .addNewItem().withKey(p.apiKeySecretKey).withPath("api-key").endItem().endSecret().build());
            mounts.add(new VolumeMountBuilder().withName("api-key").withMountPath(ModelPlan.API_KEY_DIR)
                    .withReadOnly(true).build());
        }

        Container runtime = new ContainerBuilder()
                .withName(RUNTIME_CONTAINER)
                .withImage(p.runtime.image())
                .withArgs(args(p))
                .withEnv(env(p))
                .addNewPort().withName("http").withContainerPort(p.runtime.port()).withProtocol("TCP").endPort()
                .withResources(p.resources)
                .withStartupProbe(probe("/health/started", 10, 180)) // up to 30 minutes to load the weights
                .withReadinessProbe(probe("/health/ready", 5, 3))
                .withLivenessProbe(probe("/health/live", 10, 3))
                .withNewLifecycle().withNewPreStop().withNewSleep().withSeconds((long) PRE_STOP_SLEEP_SECONDS)
                .endSleep().endPreStop().endLifecycle()
                .withSecurityContext(restricted())
                .withVolumeMounts(mounts)
                // a runtime that exits writes its reason to /dev/termination-log; else its last log lines are the message
                .withTerminationMessagePolicy(TERMINATION_MESSAGE_POLICY)
                .build();
        List<Container> containers = new ArrayList<>();
        containers.add(runtime);

        PodSecurityContextBuilder podSecurity = new PodSecurityContextBuilder().withRunAsNonRoot(true)
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile();
        if (p.runtime.runAsUser() != null) {
            // one UID for every container: the runtime must read the sidecar's /proc/<pid>/root (kserve#4995)
            podSecurity.withRunAsUser(p.runtime.runAsUser()).withRunAsGroup(p.runtime.runAsUser())
                    .withFsGroup(p.runtime.runAsUser());
        }
        PodSpecBuilder pod = new PodSpecBuilder()
                .withContainers(containers)
                .withInitContainers(inits)
                .withVolumes(volumes)
                .withSecurityContext(podSecurity.build())
                .withAutomountServiceAccountToken(false)
                .withEnableServiceLinks(false)
                .withTerminationGracePeriodSeconds((long) (PRE_STOP_SLEEP_SECONDS + DRAIN_SECONDS + 10))
                .withTolerations(tolerations(p, spec))
                .withNodeSelector(nodeSelector(p, spec))
                .withAffinity(spec.affinity)
                .withPriorityClassName(spec.priorityClassName);
        if (p.weights == ModelPlan.Weights.OCI_SIDECAR) {
            pod.withShareProcessNamespace(true);
        }

        Map<String, String> podAnnotations = new LinkedHashMap<>();
        podAnnotations.put("kubectl.kubernetes.io/default-container", RUNTIME_CONTAINER);
        DeploymentBuilder d = new DeploymentBuilder()
                .withMetadata(Plans.meta(p, p.name))
                .withNewSpec()
                .withNewSelector().withMatchLabels(p.selectorLabels()).endSelector()
                .withNewTemplate()
                .withNewMetadata().withLabels(p.labels()).withAnnotations(podAnnotations).endMetadata()
                .withSpec(pod.build())
                .endTemplate()
                .endSpec();
        Deployment deployment = d.build();
        // with an autoscaler the replica count is its field: leaving it out keeps server-side apply from fighting it
        deployment.getSpec().setReplicas(p.replicas);
        return deployment;
    }

    /** The runtime's options, exactly as gemma-server's ServeOptions spells them. */
    public static List<String> args(ModelPlan p) {
        List<String> args = new ArrayList<>();
        args.add("--model=" + p.modelPath);
        args.add("--served-model-name=" + p.name);
        args.add("--port=" + p.runtime.port());
        args.add("--max-context-length=" + p.contextLength);
        args.add("--max-concurrent-sequences=" + p.sequences);
        args.add("--backend=" + (p.gpu ? "cuda" : "cpu"));
        args.add("--tensor-parallel-size=" + p.tensorParallelSize);
        args.add("--drain-timeout-seconds=" + DRAIN_SECONDS);
        if (p.apiKeySecret != null) {
            args.add("--api-key-file=" + ModelPlan.API_KEY_DIR + "/api-key");
        }
        args.addAll(p.runtime.extraArgs());
        return args;
    }

    /** The runtime's env, then the model's (same name: the model wins), in a stable order. */
    static List<EnvVar> env(ModelPlan p) {
        return envWithOrigins(p).values().stream().map(OriginEnv::env).toList();
    }

    /** One env var of the runtime container and the field it came from (a GemmaModel's or a ServingRuntime's). */
    public record OriginEnv(EnvVar env, String origin) {
    }

    /**
     * The runtime container's env in order, each with where it was set: "spec.env[2]" (the model's),
     * "ServingRuntime 'r' spec.env[0]", or "the operator" (HOME). A refusal of env[i] is reported against its origin.
     */
    public static Map<String, OriginEnv> envWithOrigins(ModelPlan p) {
        Map<String, OriginEnv> byName = new LinkedHashMap<>();
        byName.put("HOME", new OriginEnv(new EnvVarBuilder().withName("HOME").withValue("/tmp").build(), "the operator"));
        List<EnvVar> fromRuntime = p.runtime.env();
        for (int i = 0; i < fromRuntime.size(); i++) {
            byName.put(String.valueOf(fromRuntime.get(i).getName()), new OriginEnv(fromRuntime.get(i),
                    "ServingRuntime '" + p.runtime.name() + "' spec.env[" + i + "]"));
        }
        List<EnvVar> fromModel = p.model.getSpec().env;
        if (fromModel != null) {
            for (int i = 0; i < fromModel.size(); i++) {
                byName.put(String.valueOf(fromModel.get(i).getName()), new OriginEnv(fromModel.get(i), "spec.env[" + i + "]"));
            }
        }
        return byName;
    }

    static void weights(ModelPlan p, List<Volume> volumes, List<VolumeMount> mounts, List<Container> inits) {
        switch (p.weights) {
            case PVC -> {
                volumes.add(new VolumeBuilder().withName("model").withNewPersistentVolumeClaim()
                        .withClaimName(p.claim).withReadOnly(true).endPersistentVolumeClaim().build());
                mounts.add(new VolumeMountBuilder().withName("model").withMountPath(ModelPlan.MODEL_MOUNT)
                        .withSubPath(p.claimSubPath).withReadOnly(true).build());
            }
            case OCI_IMAGE_VOLUME -> {
                volumes.add(new VolumeBuilder().withName("model").withNewImage().withReference(p.image)
                        .withPullPolicy("IfNotPresent").endImage().build());
                mounts.add(new VolumeMountBuilder().withName("model").withMountPath(ModelPlan.MODEL_MOUNT)
                        .withSubPath("models").withReadOnly(true).build());
            }
            case OCI_SIDECAR -> {
                // KServe's modelcar: the sidecar links its own /models into the shared /mnt, the runtime follows the
                // link through /proc (shareProcessNamespace); the init container pulls the image first (kserve#3927).
                // The sidecar is a native one (an init container that keeps running, Kubernetes 1.29+): the runtime
                // starts only once its startup probe has seen the link, so it never looks for the weights too early.
                // "$$$$": the kubelet expands $(VAR) in commands and turns "$$" into "$", so the shell gets "$$" (its PID)
                volumes.add(new VolumeBuilder().withName(MODELCAR_VOLUME).withNewEmptyDir().endEmptyDir().build());
                VolumeMount mnt = new VolumeMountBuilder().withName(MODELCAR_VOLUME).withMountPath("/mnt").build();
                mounts.add(mnt);
                Map<String, Quantity> tiny = Map.of("cpu", new Quantity("10m"), "memory", new Quantity("15Mi"));
                inits.add(new ContainerBuilder().withName("modelcar-init").withImage(p.image)
                        .withCommand("sh", "-c", "[ -d /models ] && [ \"$(ls -A /models)\" ]"
                                + " || { echo 'the modelcar image has no files under /models' >&2; exit 1; }")
                        .withNewResources().withRequests(tiny).withLimits(tiny).endResources()
                        .withSecurityContext(restricted()).withTerminationMessagePolicy(TERMINATION_MESSAGE_POLICY)
                        .build());
                inits.add(new ContainerBuilder().withName(MODELCAR_CONTAINER).withImage(p.image)
                        .withRestartPolicy("Always")
                        .withCommand("sh", "-c", "ln -sf /proc/$$$$/root/models /mnt/models && sleep infinity")
                        .withNewStartupProbe().withNewExec().withCommand("sh", "-c", "[ -e /mnt/models ]").endExec()
                        .withPeriodSeconds(1).withFailureThreshold(60).endStartupProbe()
                        .withNewResources().withRequests(tiny).withLimits(tiny).endResources()
                        .withSecurityContext(restricted()).withVolumeMounts(mnt)
                        .withTerminationMessagePolicy(TERMINATION_MESSAGE_POLICY).build());
            }
        }
    }

    /** Passes Pod Security "restricted" and OpenShift restricted-v2. */
    static SecurityContext restricted() {
        return new SecurityContextBuilder().withRunAsNonRoot(true).withAllowPrivilegeEscalation(false)
                .withReadOnlyRootFilesystem(true).withCapabilities(new Capabilities(null, List.of("ALL")))
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().build();
    }

    static Probe probe(String path, int period, int failures) {
        return new ProbeBuilder().withNewHttpGet().withPath(path).withPort(new IntOrString("http")).endHttpGet()
                .withPeriodSeconds(period).withFailureThreshold(failures).withTimeoutSeconds(3).build();
    }

    static List<Toleration> tolerations(ModelPlan p, GemmaModelSpec spec) {
        List<Toleration> tolerations = new ArrayList<>();
        if (p.gpu) {
            tolerations.add(new TolerationBuilder().withKey(ModelPlanner.GPU_RESOURCE).withOperator("Exists")
                    .withEffect("NoSchedule").build());
        }
        if (spec.tolerations != null) {
            tolerations.addAll(spec.tolerations);
        }
        return tolerations;
    }

    static Map<String, String> nodeSelector(ModelPlan p, GemmaModelSpec spec) {
        Map<String, String> selector = new LinkedHashMap<>();
        if (p.gpu && p.gpuProduct != null) {
            selector.put("nvidia.com/gpu.product", p.gpuProduct);
        }
        if (spec.nodeSelector != null) {
            selector.putAll(spec.nodeSelector);
        }
        return selector.isEmpty() ? null : selector;
    }
}
