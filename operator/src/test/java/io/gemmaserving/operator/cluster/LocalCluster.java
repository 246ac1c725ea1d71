package io.gemmaserving.operator.cluster;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Kubernetes control plane on this machine, without Docker: etcd, kube-apiserver (RBAC and the default admission
 * plugins, Pod Security included), kube-controller-manager, kube-scheduler and a KWOK controller, started as processes
 * by {@code kwokctl --runtime binary} from the binaries that {@code hack/build-control-plane.sh} builds.
 *
 * <p>KWOK plays the kubelets: it keeps the fake nodes Ready and moves pods bound to them to Running/Ready, so
 * Deployments, ReplicaSets, scheduling, garbage collection and admission are the real thing; only containers don't run.
 *
 * <p>Node pool: {@value #CPU_NODE} (16 CPU, 64Gi) and {@value #GPU_NODE} (one {@code nvidia.com/gpu}, labelled with
 * {@value #GPU_PRODUCT_LABEL}, tainted {@code nvidia.com/gpu:NoSchedule} as the NVIDIA GPU operator does).
 */
public final class LocalCluster implements AutoCloseable {

    public static final String CPU_NODE = "kwok-cpu-0";
    public static final String GPU_NODE = "kwok-gpu-0";
    public static final String GPU_RESOURCE = "nvidia.com/gpu";
    public static final String GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";
    public static final String GPU_PRODUCT = "NVIDIA-H100-80GB-HBM3";

    private final Path workDir;
    private final String name;
    private final Binaries binaries;
    private final Path log;
    private KubernetesClient admin;
    private Config adminConfig;
    private Thread shutdownHook;

    private final boolean fakeNodes;
    private final List<String> extraArgs;

    private LocalCluster(Binaries binaries, Path workDir, boolean fakeNodes, List<String> extraArgs) {
        this.binaries = binaries;
        this.fakeNodes = fakeNodes;
        this.extraArgs = List.copyOf(extraArgs);
        this.workDir = workDir;
        this.name = "gemma-" + ProcessHandle.current().pid();
        this.log = workDir.resolve("kwokctl.log");
    }

    /** Where the binaries are, or why they are not usable (then cluster tests skip with that reason). */
    public record Binaries(Path kwokctl, Path kwok, Path etcd, Path apiserver, Path controllerManager, Path scheduler,
                           Path kubectl) {

        /** Finds the binaries in $GEMMA_BIN and $KUBE_API_TEST_DIR/k8s/&lt;version&gt;-linux-amd64 (see hack/env.sh). */
        public static Binaries find() {
            Path cache = Path.of(Optional.ofNullable(System.getenv("GEMMA_CACHE"))
                    .orElse(System.getProperty("user.home") + "/.cache/gemma-serving"));
            Path bin = Path.of(Optional.ofNullable(System.getenv("GEMMA_BIN")).orElse(cache.resolve("bin").toString()));
            Path apiTest = Path.of(Optional.ofNullable(System.getenv("KUBE_API_TEST_DIR"))
                    .orElse(cache.resolve("kubeapitest").toString()));
            Path k8s = newestVersionDir(apiTest.resolve("k8s"));
            return new Binaries(bin.resolve("kwokctl"), bin.resolve("kwok"), k8s.resolve("etcd"),
                    k8s.resolve("kube-apiserver"), bin.resolve("kube-controller-manager"), bin.resolve("kube-scheduler"),
                    k8s.resolve("kubectl"));
        }

        private static Path newestVersionDir(Path k8s) {
            try (Stream<Path> dirs = Files.list(k8s)) {
                return dirs.filter(d -> Files.isExecutable(d.resolve("kube-apiserver")))
                        .max((a, b) -> compareVersions(a.getFileName().toString(), b.getFileName().toString()))
                        .orElse(k8s.resolve("none"));
            } catch (IOException e) {
                return k8s.resolve("none");
            }
        }

        private static int compareVersions(String a, String b) {
            String[] x = a.split("[.-]"), y = b.split("[.-]");
            for (int i = 0; i < Math.min(x.length, y.length); i++) {
                int c = x[i].matches("\\d+") && y[i].matches("\\d+")
                        ? Integer.compare(Integer.parseInt(x[i]), Integer.parseInt(y[i])) : x[i].compareTo(y[i]);
                if (c != 0) return c;
            }
            return Integer.compare(x.length, y.length);
        }

        /** Empty when every binary is there; otherwise the reason, naming the command that builds them. */
        public Optional<String> missing() {
            List<String> absent = new ArrayList<>();
            for (Path p : List.of(kwokctl, kwok, etcd, apiserver, controllerManager, scheduler, kubectl)) {
                if (!Files.isExecutable(p)) absent.add(p.toString());
            }
            return absent.isEmpty() ? Optional.empty()
                    : Optional.of("control-plane binaries absent (run hack/build-control-plane.sh): " + absent);
        }
    }

    /** Starts a cluster (about 15 s) and its node pool; throws with the tail of kwokctl's log if it fails. */
    public static LocalCluster start(Binaries binaries) throws IOException, InterruptedException {
        return start(binaries, true, List.of());
    }

    /**
     * Starts a cluster; with {@code fakeNodes} false it has no node at all (a real one joins it: node.RealNode), and
     * {@code extraArgs} go to {@code kwokctl create cluster} (for example {@code --kube-feature-gates}).
     */
    public static LocalCluster start(Binaries binaries, boolean fakeNodes, List<String> extraArgs)
            throws IOException, InterruptedException {
        LocalCluster cluster = new LocalCluster(binaries, Files.createTempDirectory("gemma-cluster-"), fakeNodes,
                extraArgs);
        cluster.create();
        return cluster;
    }

    private void create() throws IOException, InterruptedException {
        shutdownHook = new Thread(this::deleteQuietly, "delete-" + name);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        // hack/kwokctl.yaml: KWOK fakes only nodes annotated kwok.x-k8s.io/node=fake, so a real node's pods are real
        List<String> command = new ArrayList<>(List.of(binaries.kwokctl().toString(),
                "--config", Repo.root().resolve("hack/kwokctl.yaml").toString(), "create", "cluster",
                "--name", name,
                "--runtime", "binary",
                "--kubeconfig", kubeconfigPath().toString(),
                // RBAC and the default admission plugins (Pod Security, ServiceAccount, ...): the real API server rules.
                "--kube-authorization=true", "--kube-admission=true",
                "--etcd-binary", binaries.etcd().toString(),
                "--kube-apiserver-binary", binaries.apiserver().toString(),
                "--kube-controller-manager-binary", binaries.controllerManager().toString(),
                "--kube-scheduler-binary", binaries.scheduler().toString(),
                "--kwok-controller-binary", binaries.kwok().toString(),
                "--wait", "3m"));
        command.addAll(extraArgs);
        run(Duration.ofMinutes(3), command.toArray(String[]::new));
        adminConfig = Config.fromKubeconfig(Files.readString(kubeconfigPath()));
        adminConfig.setRequestTimeout(30_000);
        admin = new KubernetesClientBuilder().withConfig(adminConfig).build();
        if (fakeNodes) createNodes();
    }

    /** kwokctl's folder of this cluster: its kubeconfig.yaml, pki/ (the CA a real node's credentials are signed with), logs/. */
    public Path clusterDir() {
        return workDir.resolve("kwok").resolve("clusters").resolve(name);
    }

    /**
     * Restarts the kube-apiserver alone (SIGTERM, as a rolling control-plane upgrade does) with its same flags, data and
     * port; etcd, the controllers and KWOK keep running. kwokctl's {@code start cluster} starts only the components
     * whose process is gone. Returns once the API server serves again.
     */
    public void restartApiServer() throws IOException, InterruptedException {
        Path pidFile = workDir.resolve("kwok").resolve("clusters").resolve(name).resolve("pids").resolve("kube-apiserver.pid");
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        ProcessHandle apiserver = ProcessHandle.of(pid)
                .orElseThrow(() -> new IOException("no kube-apiserver process " + pid + " (from " + pidFile + ")"));
        apiserver.destroy();
        try {
            // it drains first: about a minute here (its watches end at the shutdown timeout)
            apiserver.onExit().get(3, TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("kube-apiserver " + pid + " did not stop within 3 minutes", e);
        }
        run(Duration.ofMinutes(3), binaries.kwokctl().toString(), "start", "cluster", "--name", name, "--wait", "2m");
    }

    /** The kubeconfig of the cluster's admin (a client certificate in system:masters). */
    public Path kubeconfigPath() {
        return workDir.resolve("kubeconfig.yaml");
    }

    public Path workDir() {
        return workDir;
    }

    /** A client with the admin's rights: for setting up and checking, never for playing the operator. */
    public KubernetesClient admin() {
        return admin;
    }

    public String masterUrl() {
        return adminConfig.getMasterUrl();
    }

    /**
     * A bearer token of a ServiceAccount, issued by the API server (TokenRequest), valid for an hour: a client built on it
     * has exactly the rights RBAC grants that account.
     */
    public String serviceAccountToken(String namespace, String serviceAccount) {
        return admin.serviceAccounts().inNamespace(namespace).withName(serviceAccount)
                .tokenRequest(new TokenRequestBuilder().withNewSpec().withExpirationSeconds(3600L).endSpec().build())
                .getStatus().getToken();
    }

    /** A client authenticated as the ServiceAccount (see {@link #serviceAccountToken}). */
    public KubernetesClient clientAs(String namespace, String serviceAccount) {
        return new KubernetesClientBuilder().withConfig(serviceAccountConfig(namespace, serviceAccount)).build();
    }

    public Config serviceAccountConfig(String namespace, String serviceAccount) {
        return new ConfigBuilder(Config.empty())
                .withMasterUrl(adminConfig.getMasterUrl())
                .withCaCertData(adminConfig.getCaCertData())
                .withCaCertFile(adminConfig.getCaCertFile())
                .withOauthToken(serviceAccountToken(namespace, serviceAccount))
                .withNamespace(namespace)
                .withRequestTimeout(30_000)
                .build();
    }

    /** Writes a kubeconfig that authenticates as the ServiceAccount: what a process (the operator's jar) is given. */
    public Path writeServiceAccountKubeconfig(String namespace, String serviceAccount) throws IOException {
        String ca = adminConfig.getCaCertData() != null ? adminConfig.getCaCertData()
                : java.util.Base64.getEncoder().encodeToString(Files.readAllBytes(Path.of(adminConfig.getCaCertFile())));
        String yaml = """
                apiVersion: v1
                kind: Config
                clusters:
                - name: local
                  cluster:
                    server: %s
                    certificate-authority-data: %s
                users:
                - name: %s
                  user:
                    token: %s
                contexts:
                - name: local
                  context: {cluster: local, user: %s, namespace: %s}
                current-context: local
                """.formatted(adminConfig.getMasterUrl(), ca, serviceAccount,
                serviceAccountToken(namespace, serviceAccount), serviceAccount, namespace);
        Path file = workDir.resolve("kubeconfig-" + namespace + "-" + serviceAccount + ".yaml");
        Files.writeString(file, yaml);
        return file;
    }

    /**
     * Server-side applies every YAML document of a file, or of each *.yaml / *.yml file of a directory in name order,
     * as the admin (field manager {@code gemma-platform}); returns what the server answered.
     */
    public List<io.fabric8.kubernetes.api.model.HasMetadata> applyServerSide(Path fileOrDir) throws IOException {
        List<Path> files;
        if (Files.isDirectory(fileOrDir)) {
            try (Stream<Path> list = Files.list(fileOrDir)) {
                files = list.filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml")).sorted()
                        .toList();
            }
        } else {
            files = List.of(fileOrDir);
        }
        List<io.fabric8.kubernetes.api.model.HasMetadata> applied = new ArrayList<>();
        for (Path f : files) {
            try (var in = Files.newInputStream(f)) {
                applied.addAll(admin.load(in).fieldManager("gemma-platform").forceConflicts().serverSideApply());
            }
        }
        return applied;
    }

    /** Applies the CRDs in {@code dir} and waits until the API server serves them (condition Established). */
    public void installCrds(Path dir) throws IOException {
        for (var crd : applyServerSide(dir)) {
            admin.apiextensions().v1().customResourceDefinitions().withName(crd.getMetadata().getName())
                    .waitUntilCondition(c -> c != null && c.getStatus() != null && c.getStatus().getConditions() != null
                            && c.getStatus().getConditions().stream().anyMatch(
                            x -> "Established".equals(x.getType()) && "True".equals(x.getStatus())),
                            60, TimeUnit.SECONDS);
        }
    }

    /** Creates a namespace, optionally with labels (for example Pod Security's enforce level). */
    public void createNamespace(String namespace, Map<String, String> labels) {
        admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(namespace).withLabels(labels)
                .endMetadata().build()).serverSideApply();
    }

    private void createNodes() {
        admin.nodes().resource(node(CPU_NODE, Map.of("cpu", "16", "memory", "64Gi", "pods", "110"), Map.of(), false))
                .create();
        admin.nodes().resource(node(GPU_NODE, Map.of("cpu", "32", "memory", "256Gi", "pods", "110", GPU_RESOURCE, "1"),
                Map.of(GPU_PRODUCT_LABEL, GPU_PRODUCT, "nvidia.com/gpu.present", "true"), true)).create();
        // KWOK's node stages mark the nodes Ready within a second or two.
        for (String node : List.of(CPU_NODE, GPU_NODE)) {
            admin.nodes().withName(node).waitUntilCondition(LocalCluster::isReady, 60, TimeUnit.SECONDS);
        }
    }

    static boolean isReady(Node n) {
        return n != null && n.getStatus() != null && n.getStatus().getConditions() != null
                && n.getStatus().getConditions().stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
    }

    private static Node node(String name, Map<String, String> capacity, Map<String, String> labels, boolean gpuTaint) {
        Map<String, Quantity> quantities = new java.util.TreeMap<>();
        capacity.forEach((k, v) -> quantities.put(k, new Quantity(v)));
        Map<String, String> allLabels = new java.util.TreeMap<>(labels);
        allLabels.putAll(Map.of("kubernetes.io/hostname", name, "kubernetes.io/os", "linux",
                "kubernetes.io/arch", "amd64", "type", "kwok"));
        NodeBuilder b = new NodeBuilder()
                .withNewMetadata().withName(name).withLabels(allLabels)
                // The annotation that the KWOK controller that kwokctl starts selects its nodes by.
                .withAnnotations(Map.of("kwok.x-k8s.io/node", "fake", "node.alpha.kubernetes.io/ttl", "0"))
                .endMetadata()
                .withNewSpec().endSpec()
                .withNewStatus().withCapacity(quantities).withAllocatable(quantities)
                .withNewNodeInfo().withArchitecture("amd64").withOperatingSystem("linux")
                .withKubeletVersion("fake").withKubeProxyVersion("fake").withContainerRuntimeVersion("kwok")
                .withBootID("").withMachineID("").withSystemUUID("").withKernelVersion("").withOsImage("")
                .endNodeInfo()
                .endStatus();
        if (gpuTaint) {
            b.editSpec().addNewTaint().withKey(GPU_RESOURCE).withValue("present").withEffect("NoSchedule").endTaint()
                    .endSpec();
        }
        return b.build();
    }

    /** Runs a command with the cluster's environment, logging to kwokctl.log; throws with the log's tail on failure. */
    private void run(Duration timeout, String... command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("KWOK_WORKDIR", workDir.resolve("kwok").toString());
        // kwokctl looks kubectl up on the PATH (it needs none for this cluster, but never downloads one then).
        pb.environment().merge("PATH", binaries.kubectl().getParent().toString(), (a, b) -> b + ":" + a);
        Process p = pb.start();
        if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " timed out after " + timeout + "\n" + logTail());
        }
        if (p.exitValue() != 0) {
            String what = String.join(" ", List.of(command).subList(1, Math.min(5, command.length)));
            throw new IOException(what + " failed (exit " + p.exitValue() + ")\n" + logTail());
        }
    }

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private void deleteQuietly() {
        try {
            run(Duration.ofMinutes(1), binaries.kwokctl().toString(), "delete", "cluster", "--name", name);
        } catch (Exception e) {
            System.err.println("could not delete the local cluster " + name + ": " + e.getMessage());
        }
    }

    /** Stops every process of the cluster and removes its files. */
    @Override
    public void close() {
        if (admin != null) admin.close();
        deleteQuietly();
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shuttingDown) {
                // already running the hooks: the delete above was enough
            }
        }
        try (Stream<Path> files = Files.walk(workDir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // a temp directory left behind is harmless
        }
    }
}
