package io.gemmaserving.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.gemmaserving.operator.plan.OperatorSettings;
import io.javaoperatorsdk.operator.Operator;
import java.time.Duration;

/**
 * The operator without Quarkus: a plain java-operator-sdk {@link Operator} on a given client, with the same
 * reconciler and workflow the Quarkus application runs. For tests and benchmarks against a real API server:
 *
 * <pre>{@code
 * try (var op = InProcessOperator.start(client, OperatorSettings.defaults())) { ... }
 * }</pre>
 * It watches all namespaces. The client's identity needs the RBAC in src/main/kubernetes/kubernetes.yml.
 */
public final class InProcessOperator implements AutoCloseable {

    private final Operator operator;

    private InProcessOperator(Operator operator) {
        this.operator = operator;
    }

    public static InProcessOperator start(KubernetesClient client, OperatorSettings settings) {
        Operator operator = new Operator(o -> o.withKubernetesClient(client)
                .withCloseClientOnStop(false)
                .withStopOnInformerErrorDuringStartup(true)
                .withCacheSyncTimeout(Duration.ofSeconds(30)));
        operator.register(new GemmaModelReconciler(settings));
        operator.start();
        return new InProcessOperator(operator);
    }

    public Operator operator() {
        return operator;
    }

    @Override
    public void close() {
        operator.stop();
    }
}
