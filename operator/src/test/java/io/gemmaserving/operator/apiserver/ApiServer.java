package io.gemmaserving.operator.apiserver;

import io.fabric8.kubeapitest.KubeAPIServer;
import io.fabric8.kubeapitest.KubeAPIServerConfigBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.networking.v1.ServiceCIDRBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * One real kube-apiserver + etcd per test JVM (fabric8 kube-api-test, offline: the binaries that hack/ builds into
 * $KUBE_API_TEST_DIR/k8s/&lt;version&gt;-linux-amd64/), with the CRDs from crds/ installed. Tests call
 * {@link #client()}; without the binaries they are skipped with the reason.
 */
public final class ApiServer {

    private static KubernetesClient client;
    private static String unavailable;
    private static int namespaces;

    private ApiServer() {
    }

    /** The admin client (system:masters), skipping the calling test when no API server can be run here. */
    public static synchronized KubernetesClient client() {
        if (client == null && unavailable == null) {
            start();
        }
        Assumptions.assumeTrue(unavailable == null, () -> unavailable);
        return client;
    }

    /** The operator's ServiceAccount, as the tests that run the operator impersonate it. */
    public static final String OPERATOR_SA = "system:serviceaccount:gemma-serving-system:gemma-operator";

    /**
     * A client acting as the operator's ServiceAccount with exactly the RBAC of src/main/kubernetes/kubernetes.yml
     * (applied here), so a missing rule fails the test that uses it.
     */
    public static synchronized KubernetesClient asOperator() {
        KubernetesClient admin = client();
        if (admin.namespaces().withName("gemma-serving-system").get() == null) {
            admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("gemma-serving-system")
                    .endMetadata().build()).create();
        }
        try (InputStream rbac = Files.newInputStream(Path.of("src", "main", "kubernetes", "kubernetes.yml"))) {
            for (var item : admin.load(rbac).items()) {
                admin.resource(item).serverSideApply();
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Config impersonating = new io.fabric8.kubernetes.client.ConfigBuilder(admin.getConfiguration())
                .withImpersonateUsername(OPERATOR_SA)
                .withImpersonateGroups("system:serviceaccounts", "system:authenticated").build();
        return new KubernetesClientBuilder().withConfig(impersonating).build();
    }

    /** A fresh namespace for one test. */
    public static synchronized String namespace(String prefix) {
        String name = prefix + "-" + (++namespaces);
        client().namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
                .create();
        return name;
    }

    static Optional<String> binariesMissing(Path dir) {
        Path k8s = dir.resolve("k8s");
        try (Stream<Path> versions = Files.list(k8s)) {
            boolean ok = versions.anyMatch(v -> Files.isExecutable(v.resolve("kube-apiserver"))
                    && Files.isExecutable(v.resolve("etcd")));
            return ok ? Optional.empty() : Optional.of("no kube-apiserver and etcd under " + k8s
                    + "/<version>-linux-amd64 (hack/build-control-plane.sh builds them)");
        } catch (IOException e) {
            return Optional.of("no " + k8s + " (hack/build-control-plane.sh builds the API server binaries there)");
        }
    }

    private static void start() {
        String env = System.getenv("KUBE_API_TEST_DIR");
        Path dir = env == null || env.isBlank()
                ? Path.of(System.getProperty("user.home"), ".cache", "gemma-serving", "kubeapitest") : Path.of(env);
        Optional<String> missing = binariesMissing(dir);
        if (missing.isPresent()) {
            unavailable = missing.get();
            return;
        }
        KubeAPIServer server = new KubeAPIServer(KubeAPIServerConfigBuilder.anAPIServerConfig()
                .withTestDir(dir.toString()).withOfflineMode(true).withUpdateKubeConfig(false)
                .withStartupTimeout(120_000)
                .build());
        try {
            server.start();
        } catch (RuntimeException e) {
            unavailable = "kube-apiserver did not start: " + e.getMessage();
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::stop));
        client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(server.getKubeConfigYaml())).build();
        widenServiceRange(client);
        installCrds(client);
    }

    /** Second service range: its addresses are handed out once the first is full. */
    static final String EXTRA_SERVICE_CIDR = "10.1.0.0/16";

    /**
     * kube-api-test starts the API server with {@code --service-cluster-ip-range 10.0.0.0/24} (about 250 Services; the
     * benchmark's 1000 models make a Service each). A flag passed through its builder cannot widen that: builder flags
     * come first on the command line and a repeated string flag keeps its last value. Kubernetes 1.33+ (ServiceCIDR GA)
     * adds ranges as objects instead; with no controller manager here to mark it Ready, the API server counts one
     * without conditions as ready.
     */
    static void widenServiceRange(KubernetesClient c) {
        c.resource(new ServiceCIDRBuilder().withNewMetadata().withName("kube-api-test-extra").endMetadata()
                .withNewSpec().withCidrs(EXTRA_SERVICE_CIDR).endSpec().build()).serverSideApply();
    }

    static void installCrds(KubernetesClient c) {
        Path crds = Path.of("..", "crds");
        try (Stream<Path> files = Files.list(crds)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yml")).sorted().toList()) {
                try (InputStream in = Files.newInputStream(f)) {
                    CustomResourceDefinition crd = c.apiextensions().v1().customResourceDefinitions().load(in).item();
                    c.resource(crd).serverSideApply();
                    c.apiextensions().v1().customResourceDefinitions().withName(crd.getMetadata().getName())
                            .waitUntilCondition(d -> d.getStatus() != null && d.getStatus().getConditions() != null
                                    && d.getStatus().getConditions().stream().anyMatch(
                                            x -> "Established".equals(x.getType()) && "True".equals(x.getStatus())),
                                    30, TimeUnit.SECONDS);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + crds.toAbsolutePath() + ": " + e.getMessage(), e);
        }
    }
}
