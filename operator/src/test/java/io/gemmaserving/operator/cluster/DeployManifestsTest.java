package io.gemmaserving.operator.cluster;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The plain manifests of deploy/ applied server-side to the real control plane, as a user would with
 * {@code kubectl apply --server-side -f deploy/} (after crds/, which the operator's own API tests cover): they are accepted, the operator pod passes Pod Security
 * "restricted" in its namespace, and the operator's ServiceAccount, authenticated by a token the API server issued, has
 * the rights its reconcilers need and not the ones it must not have.
 */
@Tag("cluster")
@ExtendWith(LocalClusterExtension.class)
class DeployManifestsTest {

    static final String NS = "gemma-serving-system";
    static final String SA = "gemma-operator";

    @BeforeAll
    static void apply(LocalCluster cluster) throws IOException {
        applyDeployManifests(cluster);
    }

    /** Applies deploy/ server-side (idempotent: other cluster tests call it too) and checks what was applied. */
    static void applyDeployManifests(LocalCluster cluster) throws IOException {
        List<HasMetadata> applied = cluster.applyServerSide(Repo.root().resolve("deploy"));
        assertThat(applied).extracting(HasMetadata::getKind)
                .contains("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                        "Deployment");
    }

    @Test
    void operatorPodIsAdmittedUnderRestrictedPodSecurityAndBecomesReady(LocalCluster cluster) {
        KubernetesClient k = cluster.admin();
        assertThat(k.namespaces().withName(NS).get().getMetadata().getLabels())
                .containsEntry("pod-security.kubernetes.io/enforce", "restricted");
        var d = k.apps().deployments().inNamespace(NS).withName("gemma-operator").waitUntilCondition(
                x -> x != null && x.getStatus() != null && Integer.valueOf(1).equals(x.getStatus().getReadyReplicas()),
                90, TimeUnit.SECONDS);
        assertThat(d.getStatus().getReadyReplicas()).isEqualTo(1);
        // Had the pod template broken "restricted", the ReplicaSet would report a FailedCreate instead.
        assertThat(k.pods().inNamespace(NS).withLabel("app.kubernetes.io/name", "gemma-operator").list().getItems())
                .singleElement().satisfies(p -> assertThat(p.getSpec().getServiceAccountName()).isEqualTo(SA));
    }

    @Test
    void serviceAccountHasWhatTheReconcilersNeed(LocalCluster cluster) {
        try (KubernetesClient asOperator = cluster.clientAs(NS, SA)) {
            for (String[] check : new String[][]{
                    {"serving.gemma.io", "gemmamodels", "", "watch"},
                    {"serving.gemma.io", "gemmamodels", "status", "patch"},
                    {"serving.gemma.io", "servingruntimes", "", "list"},
                    {"apps", "deployments", "", "create"},
                    {"apps", "deployments", "", "patch"},
                    {"", "services", "", "delete"},
                    {"autoscaling", "horizontalpodautoscalers", "", "create"},
                    {"policy", "poddisruptionbudgets", "", "create"},
                    {"", "events", "", "create"},
                    {"keda.sh", "scaledobjects", "", "create"},
                    {"monitoring.coreos.com", "servicemonitors", "", "create"}}) {
                assertThat(allowed(asOperator, "some-user-namespace", check))
                        .as("operator may %s %s/%s %s", check[3], check[0], check[1], check[2]).isTrue();
            }
            assertThat(allowed(asOperator, NS, new String[]{"coordination.k8s.io", "leases", "", "update"})).isTrue();
            // The same request outside its own namespace: leader election is namespaced.
            assertThat(allowed(asOperator, "default", new String[]{"coordination.k8s.io", "leases", "", "update"}))
                    .isFalse();

            // Real requests, not only reviews: listing Deployments in every namespace works.
            assertThat(asOperator.apps().deployments().inAnyNamespace().list().getItems())
                    .extracting(x -> x.getMetadata().getName()).contains("gemma-operator");
        }
    }

    @Test
    void serviceAccountLacksWhatItMustNotHave(LocalCluster cluster) {
        try (KubernetesClient asOperator = cluster.clientAs(NS, SA)) {
            for (String[] check : new String[][]{
                    {"", "secrets", "", "get"},
                    {"", "secrets", "", "list"},
                    {"", "pods", "", "delete"},
                    {"", "configmaps", "", "list"},
                    {"serving.gemma.io", "servingruntimes", "", "update"},
                    {"", "namespaces", "", "delete"},
                    {"rbac.authorization.k8s.io", "clusterroles", "", "create"},
                    {"apiextensions.k8s.io", "customresourcedefinitions", "", "create"},
                    {"serving.gemma.io", "gemmamodels", "", "delete"}}) {
                assertThat(allowed(asOperator, "some-user-namespace", check))
                        .as("operator must not %s %s/%s", check[3], check[0], check[1]).isFalse();
            }
            assertThatThrownBy(() -> asOperator.secrets().inAnyNamespace().list())
                    .isInstanceOf(KubernetesClientException.class)
                    .satisfies(e -> assertThat(((KubernetesClientException) e).getCode()).isEqualTo(403));
        }
    }

    /** {group, resource, subresource, verb}, asked of the API server by the caller itself. */
    static boolean allowed(KubernetesClient client, String namespace, String[] check) {
        SelfSubjectAccessReview review = new SelfSubjectAccessReviewBuilder().withNewSpec()
                .withNewResourceAttributes().withGroup(check[0]).withResource(check[1]).withSubresource(check[2])
                .withVerb(check[3]).withNamespace(namespace).endResourceAttributes().endSpec().build();
        return client.authorization().v1().selfSubjectAccessReview().create(review).getStatus().getAllowed();
    }
}
