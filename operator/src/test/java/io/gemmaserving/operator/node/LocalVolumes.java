package io.gemmaserving.operator.node;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.gemmaserving.operator.node.NodeExtension.NodeCluster;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Local PersistentVolumes on the real node holding the 270M GGUF, and claims bound to them. */
final class LocalVolumes {

    private LocalVolumes() {
    }

    /** The real Gemma 3 270M GGUF setup assembled (hack/env.sh: GEMMA_270M_GGUF). */
    static Path gguf() {
        return Path.of(Optional.ofNullable(System.getenv("GEMMA_270M_GGUF"))
                .orElse(RealNode.cache().resolve("models/gemma-3-270m-q4_k_m.gguf").toString()));
    }

    /**
     * A folder on the node, readable by any UID, holding the GGUF under {@link Images#MODELCAR_FILE}: a hard link to
     * the cached file, or with {@code truncated} its first half (a download cut short).
     */
    static Path weights(NodeCluster env, String name, boolean truncated) throws IOException {
        Path source = gguf();
        if (!Files.isRegularFile(source)) {
            throw new IllegalStateException(source + " missing: run hack/setup.sh python");
        }
        Path dir = env.cluster().workDir().resolve("volumes").resolve(name);
        Files.createDirectories(dir);
        for (Path p = dir; !p.equals(env.cluster().workDir().getParent()); p = p.getParent()) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        Path file = dir.resolve(Images.MODELCAR_FILE);
        Files.deleteIfExists(file);
        if (truncated) {
            try (FileChannel in = FileChannel.open(source);
                 FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                long half = in.size() / 2;
                for (long done = 0; done < half; ) done += in.transferTo(done, half - done, out);
            }
        } else {
            try {
                Files.createLink(file, source);
            } catch (IOException | UnsupportedOperationException otherFileSystem) {
                Files.copy(source, file);
            }
        }
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        return dir;
    }

    /** A local PersistentVolume on the real node for {@code dir}, and a claim of that name bound to it. */
    static void claim(KubernetesClient k, String ns, String name, Path dir) {
        String pv = ns + "-" + name;
        k.persistentVolumes().resource(new PersistentVolumeBuilder().withNewMetadata().withName(pv).endMetadata()
                .withNewSpec().withCapacity(Map.of("storage", new Quantity("1Gi")))
                .withAccessModes("ReadOnlyMany").withPersistentVolumeReclaimPolicy("Retain")
                .withStorageClassName("local-weights")
                .withNewLocal().withPath(dir.toString()).endLocal()
                .withNewNodeAffinity().withNewRequired().addNewNodeSelectorTerm().addNewMatchExpression()
                .withKey("kubernetes.io/hostname").withOperator("In").withValues(RealNode.NAME).endMatchExpression()
                .endNodeSelectorTerm().endRequired().endNodeAffinity()
                .endSpec().build()).serverSideApply();
        k.persistentVolumeClaims().inNamespace(ns).resource(new PersistentVolumeClaimBuilder().withNewMetadata()
                .withName(name).withNamespace(ns).endMetadata()
                .withNewSpec().withAccessModes("ReadOnlyMany").withStorageClassName("local-weights").withVolumeName(pv)
                .withNewResources().withRequests(Map.of("storage", new Quantity("1Gi"))).endResources()
                .endSpec().build()).serverSideApply();
        k.persistentVolumeClaims().inNamespace(ns).withName(name).waitUntilCondition(
                c -> c != null && c.getStatus() != null && "Bound".equals(c.getStatus().getPhase()), 60, TimeUnit.SECONDS);
    }
}
