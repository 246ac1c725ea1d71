package io.gemmaserving.operator.node;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.gemmaserving.operator.cluster.LocalCluster;
import io.gemmaserving.operator.cluster.Repo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real kubelet node on this machine, joined to a {@link LocalCluster}: {@code hack/node.sh up} (containerd, runc, the
 * CNI bridge, kubelet, kube-proxy) and {@code hack/node.sh down}, which removes its pods, network and state.
 */
public final class RealNode implements AutoCloseable {

    public static final String NAME = "gemma-node-0";

    private final Path log;
    private final Thread shutdownHook;

    private RealNode(Path log) {
        this.log = log;
        this.shutdownHook = new Thread(this::downQuietly, "node-down");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    static Path cache() {
        return Path.of(Optional.ofNullable(System.getenv("GEMMA_CACHE"))
                .orElse(System.getProperty("user.home") + "/.cache/gemma-serving"));
    }

    /** The node's state folder (hack/env.sh: GEMMA_NODE_STATE): kubelet's pod folders, logs. */
    public static Path state() {
        return Path.of(Optional.ofNullable(System.getenv("GEMMA_NODE_STATE")).orElse("/var/lib/gemma-node"));
    }

    /** Empty when this machine can run a node; otherwise why not, naming what installs the missing part. */
    public static Optional<String> missing() {
        if (!isRoot()) return Optional.of("a real node needs root (containerd, iptables, mounts); running as uid "
                + uid());
        List<String> absent = new ArrayList<>();
        for (String b : List.of("containerd", "ctr", "runc", "iptables", "openssl")) {
            if (onPath(b).isEmpty()) absent.add(b + " (hack/setup.sh node)");
        }
        if (!Files.isExecutable(Path.of("/usr/lib/cni/bridge"))) absent.add("/usr/lib/cni/bridge (hack/setup.sh node)");
        Path bin = Path.of(Optional.ofNullable(System.getenv("GEMMA_BIN")).orElse(cache().resolve("bin").toString()));
        for (String b : List.of("kubelet", "kube-proxy")) {
            if (!Files.isExecutable(bin.resolve(b))) absent.add(bin.resolve(b) + " (hack/build-control-plane.sh node)");
        }
        try (Stream<Path> files = Files.list(cache().resolve("node"))) {
            if (files.noneMatch(f -> f.getFileName().toString().matches("pause-.*\\.oci\\.tar"))) {
                absent.add("the pause image tar (hack/build-control-plane.sh node)");
            }
        } catch (IOException e) {
            absent.add("the pause image tar (hack/build-control-plane.sh node)");
        }
        return absent.isEmpty() ? Optional.empty() : Optional.of("real-node parts absent: " + absent);
    }

    /** Starts the node and waits until it is Ready; throws with the end of hack/node.sh's output if it is not. */
    public static RealNode up(LocalCluster cluster) throws IOException, InterruptedException {
        RealNode node = new RealNode(cluster.workDir().resolve("node.log"));
        try {
            node.run(300, "up", "--cluster-dir", cluster.clusterDir().toString(), "--name", NAME);
        } catch (IOException | RuntimeException e) {
            node.close();
            throw e;
        }
        return node;
    }

    private void run(long timeoutSeconds, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", Repo.root().resolve("hack/node.sh").toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("hack/node.sh " + args[0] + " timed out after " + timeoutSeconds + " s\n" + logTail());
        }
        if (p.exitValue() != 0) {
            throw new IOException("hack/node.sh " + args[0] + " failed (exit " + p.exitValue() + ")\n" + logTail());
        }
    }

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private void downQuietly() {
        try {
            run(120, "down");
        } catch (Exception e) {
            System.err.println("hack/node.sh down failed: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        downQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // the hooks run already: the down above was enough
        }
    }

    /**
     * Makes the node advertise {@code count} nvidia.com/gpu in its status (capacity and allocatable), as Kubernetes
     * documents for extended resources; 0 removes them. The node has no GPU: this is what a device plugin that
     * reports one wrongly looks like to the scheduler.
     */
    public static void advertiseGpus(KubernetesClient k, int count) {
        boolean has = k.nodes().withName(NAME).get().getStatus().getCapacity().containsKey("nvidia.com/gpu");
        String path = "/status/%s/nvidia.com~1gpu";
        String patch = count > 0
                ? "[{\"op\":\"add\",\"path\":\"" + path.formatted("capacity") + "\",\"value\":\"" + count + "\"},"
                + "{\"op\":\"add\",\"path\":\"" + path.formatted("allocatable") + "\",\"value\":\"" + count + "\"}]"
                : has ? "[{\"op\":\"remove\",\"path\":\"" + path.formatted("capacity") + "\"},"
                + "{\"op\":\"remove\",\"path\":\"" + path.formatted("allocatable") + "\"}]" : null;
        if (patch != null) {
            k.nodes().withName(NAME).subresource("status").patch(PatchContext.of(PatchType.JSON), patch);
        }
    }

    private static boolean isRoot() {
        return "0".equals(uid());
    }

    /** The real UID of this process, from /proc/self/status ("Uid:\treal\teffective\t..."). */
    private static String uid() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.split("\\s+")[1]).findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    private static Optional<Path> onPath(String name) {
        for (String dir : Optional.ofNullable(System.getenv("PATH")).orElse("/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }
}
