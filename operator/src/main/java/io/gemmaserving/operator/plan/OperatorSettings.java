package io.gemmaserving.operator.plan;

/**
 * The operator's own configuration, from environment variables (OLM fills the RELATED_IMAGE_* ones from the CSV's
 * relatedImages). Handed to the reconciler's constructor: Quarkus injects the one {@code OperatorSettingsProducer} reads
 * from the environment, a test's bare JOSDK Operator passes its own.
 *
 * @param cpuImage          built-in runtime image for CPU models (RELATED_IMAGE_GEMMA_RUNTIME_CPU)
 * @param cudaImage         built-in runtime image for GPU models (RELATED_IMAGE_GEMMA_RUNTIME_CUDA)
 * @param runAsUser         UID for every container of a model pod (GEMMA_RUN_AS_USER, default 1001; "none" leaves it
 *                          to the platform, as OpenShift's restricted-v2 SCC wants)
 * @param prometheusAddress Prometheus the KEDA trigger queries (GEMMA_PROMETHEUS_ADDRESS)
 * @param clusterDomain     DNS suffix of in-cluster endpoints (GEMMA_CLUSTER_DOMAIN, default cluster.local)
 */
public record OperatorSettings(String cpuImage, String cudaImage, Long runAsUser, String prometheusAddress,
                               String clusterDomain) {

    public static final String DEFAULT_CPU_IMAGE = "quay.io/gemma-serving/gemma-runtime:0.1.0";
    public static final String DEFAULT_CUDA_IMAGE = "quay.io/gemma-serving/gemma-runtime-cuda:0.1.0";

    public static OperatorSettings defaults() {
        return new OperatorSettings(DEFAULT_CPU_IMAGE, DEFAULT_CUDA_IMAGE, 1001L,
                "http://prometheus-operated.monitoring.svc:9090", "cluster.local");
    }

    public static OperatorSettings fromEnvironment() {
        OperatorSettings d = defaults();
        String uid = env("GEMMA_RUN_AS_USER", "1001");
        Long runAsUser;
        try {
            runAsUser = uid.isBlank() || uid.equals("none") ? null : Long.valueOf(uid);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("GEMMA_RUN_AS_USER must be a UID or 'none', got '" + uid + "'");
        }
        return new OperatorSettings(env("RELATED_IMAGE_GEMMA_RUNTIME_CPU", d.cpuImage()),
                env("RELATED_IMAGE_GEMMA_RUNTIME_CUDA", d.cudaImage()), runAsUser,
                env("GEMMA_PROMETHEUS_ADDRESS", d.prometheusAddress()), env("GEMMA_CLUSTER_DOMAIN", d.clusterDomain()));
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : v.trim();
    }
}
