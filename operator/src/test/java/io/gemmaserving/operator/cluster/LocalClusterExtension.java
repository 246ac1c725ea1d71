package io.gemmaserving.operator.cluster;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that gives a test class the {@link LocalCluster}: one cluster per test run (it takes ~15 s to
 * start), shared by every class that uses the extension and deleted when the run ends. Without the binaries the classes
 * skip, saying which are missing and how to build them.
 *
 * <pre>
 * &#64;ExtendWith(LocalClusterExtension.class)
 * class SomeClusterTest {
 *     &#64;Test void works(LocalCluster cluster) { cluster.admin().pods()... }
 * }
 * </pre>
 */
public class LocalClusterExtension implements BeforeAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LocalClusterExtension.class);

    /** Closed by JUnit when the root context closes, i.e. after the last test class of the run. */
    private record Holder(LocalCluster cluster) implements AutoCloseable {
        @Override
        public void close() {
            cluster.close();
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        cluster(context);
    }

    /** The shared cluster, started on first use; aborts (skips) the caller when the binaries are absent. */
    public static LocalCluster cluster(ExtensionContext context) {
        LocalCluster.Binaries binaries = LocalCluster.Binaries.find();
        binaries.missing().ifPresent(reason -> {
            // Surefire counts a class aborted in beforeAll as 0 tests run and does not print why: say it here.
            System.err.println("SKIPPED " + context.getDisplayName() + ": " + reason);
            Assumptions.abort(reason);
        });
        Holder holder = context.getRoot().getStore(NS).getOrComputeIfAbsent(Holder.class, k -> {
            try {
                return new Holder(LocalCluster.start(binaries));
            } catch (Exception e) {
                throw new IllegalStateException("the local cluster did not start: " + e.getMessage(), e);
            }
        }, Holder.class);
        return holder.cluster();
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == LocalCluster.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return cluster(context);
    }
}
