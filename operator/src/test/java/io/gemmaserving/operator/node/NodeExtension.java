package io.gemmaserving.operator.node;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.gemmaserving.operator.cluster.LocalCluster;
import io.gemmaserving.operator.cluster.Repo;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Gives a test class the {@link NodeCluster}: a control plane without fake nodes (kwokctl, as the cluster tier starts
 * it), a real node joined to it (hack/node.sh), the CRDs, and the operator running in the cluster from deploy/ with
 * its image and ServiceAccount. One per test run, shared by the classes that use it, stopped when the run ends.
 * Skips, saying why, when this machine cannot run it: not root, binaries absent, no registry or images.
 */
public class NodeExtension implements BeforeAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(NodeExtension.class);

    /** The namespace and Deployment of the operator (deploy/). */
    public static final String OPERATOR_NS = "gemma-serving-system";
    public static final String OPERATOR = "gemma-operator";

    /**
     * UIDs the models' namespace hands out, as OpenShift writes them into a namespace's annotation
     * {@code openshift.io/sa.scc.uid-range} ("first/size") and restricted-v2 assigns the first one to its pods.
     * No SCC admission runs here: the operator is given the namespace range's first UID as GEMMA_RUN_AS_USER.
     */
    public static final long UID_RANGE_START = 1000770000L;
    public static final String UID_RANGE = UID_RANGE_START + "/10000";

    /** What the tests get: the cluster (admin client, kubeconfig) and its real node. */
    public record NodeCluster(LocalCluster cluster, RealNode node) {
        public KubernetesClient admin() {
            return cluster.admin();
        }
    }

    private record Holder(NodeCluster env) implements AutoCloseable {
        @Override
        public void close() {
            env.node().close();
            env.cluster().close();
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        env(context);
    }

    static NodeCluster env(ExtensionContext context) {
        Optional<String> reason = LocalCluster.Binaries.find().missing()
                .or(RealNode::missing)
                .or(Images::missing);
        reason.ifPresent(r -> {
            System.err.println("SKIPPED " + context.getDisplayName() + ": " + r);
            Assumptions.abort(r);
        });
        return context.getRoot().getStore(NS).getOrComputeIfAbsent(Holder.class, k -> {
            LocalCluster cluster = null;
            RealNode node = null;
            try {
                cluster = LocalCluster.start(LocalCluster.Binaries.find(), false, List.of());
                node = RealNode.up(cluster);
                cluster.installCrds(Repo.root().resolve("crds"));
                deployOperator(cluster);
                return new Holder(new NodeCluster(cluster, node));
            } catch (Exception e) {
                if (node != null) node.close();
                if (cluster != null) cluster.close();
                throw new IllegalStateException("the real-node cluster did not start: " + e.getMessage(), e);
            }
        }, Holder.class).env();
    }

    /**
     * Applies deploy/ as a user mirroring our images would: the Deployment's images point at the local registry
     * (operator and RELATED_IMAGE_GEMMA_RUNTIME_CPU), and GEMMA_RUN_AS_USER is the models' namespace range's first UID.
     * Waits until the operator's pod is Ready.
     */
    static void deployOperator(LocalCluster cluster) throws IOException {
        KubernetesClient k = cluster.admin();
        List<HasMetadata> objects = new ArrayList<>();
        try (Stream<Path> files = Files.list(Repo.root().resolve("deploy"))) {
            for (Path f : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
                try (InputStream in = Files.newInputStream(f)) {
                    objects.addAll(k.load(in).items());
                }
            }
        }
        for (HasMetadata o : objects) {
            if (o instanceof Deployment d && OPERATOR.equals(d.getMetadata().getName())) {
                Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
                c.setImage(Images.OPERATOR);
                setEnv(c, "RELATED_IMAGE_GEMMA_RUNTIME_CPU", Images.RUNTIME);
                setEnv(c, "GEMMA_RUN_AS_USER", Long.toString(UID_RANGE_START));
            }
            k.resource(o).fieldManager("gemma-platform").forceConflicts().serverSideApply();
        }
        k.apps().deployments().inNamespace(OPERATOR_NS).withName(OPERATOR).waitUntilCondition(
                d -> d != null && d.getStatus() != null && Integer.valueOf(1).equals(d.getStatus().getReadyReplicas()),
                5, TimeUnit.MINUTES);
    }

    private static void setEnv(Container c, String name, String value) {
        c.getEnv().removeIf(e -> name.equals(e.getName()));
        c.getEnv().add(new EnvVar(name, value, null));
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == NodeCluster.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return env(context);
    }
}
